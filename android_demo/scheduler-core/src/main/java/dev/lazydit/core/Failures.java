package dev.lazydit.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One line for the user about anything a bundle load or a generation threw, Errors included.
 *
 * <p>On a phone the likely Errors are real: the executorch-android AAR ships native libraries for
 * arm64-v8a and x86_64 only, so on a 32-bit phone the first use of ExecuTorch throws
 * {@link UnsatisfiedLinkError} (and every later use {@link NoClassDefFoundError}, because the class
 * that loads the library failed to initialise); a bundle too big for the phone throws
 * {@link OutOfMemoryError}. Both must become a message on screen or in the benchmark report, not a
 * crash.
 */
public final class Failures {
    /** The ABIs the AAR has native libraries for. */
    public static final List<String> EXECUTORCH_ABIS =
            Collections.unmodifiableList(Arrays.asList("arm64-v8a", "x86_64"));

    private Failures() {
    }

    /**
     * @param t what was thrown
     * @param deviceAbis the phone's ABIs (Build.SUPPORTED_ABIS), named in the message when the native
     *     library is missing
     */
    public static String describe(Throwable t, List<String> deviceAbis) {
        return describe(t, deviceAbis, "org.pytorch.executorch.");
    }

    /** {@code nativePackage}: the package whose classes load the native library. */
    static String describe(Throwable t, List<String> deviceAbis, String nativePackage) {
        if (t instanceof BundleException) {
            return t.getMessage();
        }
        Throwable link = nativeLibraryFailure(t, nativePackage);
        if (link != null) {
            boolean supported = false;
            for (String abi : deviceAbis) {
                supported |= EXECUTORCH_ABIS.contains(abi);
            }
            String why = supported
                    ? "this APK lacks the library for the ABI the app runs as; install a build that packages "
                            + String.join(" or ", EXECUTORCH_ABIS)
                    : "ExecuTorch ships " + String.join(" and ", EXECUTORCH_ABIS)
                            + " only: use a 64-bit phone or an x86_64 emulator";
            return BundleException.oneLine("ExecuTorch's native library cannot be loaded on this device (ABIs: "
                    + String.join(", ", deviceAbis) + "); " + why + " (" + brief(link) + ")");
        }
        if (t instanceof OutOfMemoryError) {
            return BundleException.oneLine("not enough memory for this bundle on this device (" + brief(t)
                    + "); close other apps, run one bundle instead of side by side, or export a smaller bundle");
        }
        return BundleException.oneLine(brief(t));
    }

    /** The UnsatisfiedLinkError, or the class-initialisation failure it left behind, or null. */
    private static Throwable nativeLibraryFailure(Throwable t, String nativePackage) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof UnsatisfiedLinkError) {
                return c;
            }
            // A later use of a class whose static initialiser failed to load the library: the JVM says
            // "Could not initialize class C", ART "Rejecting re-init on previously-failed class C: ...".
            String msg = String.valueOf(c.getMessage());
            if (c instanceof NoClassDefFoundError
                    && (msg.contains(nativePackage) || msg.contains("UnsatisfiedLinkError"))) {
                return c;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    private static String brief(Throwable t) {
        String msg = t.getMessage();
        return msg == null || msg.trim().isEmpty() ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + msg;
    }
}
