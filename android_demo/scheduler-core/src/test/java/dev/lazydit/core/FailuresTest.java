package dev.lazydit.core;

import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.CoreMatchers.not;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/** What the app shows for real Errors a phone throws: a missing native library, an exhausted heap. */
public class FailuresTest {
    private static final List<String> ARM32 = Arrays.asList("armeabi-v7a", "armeabi");
    private static final List<String> ARM64 = Arrays.asList("arm64-v8a", "armeabi-v7a", "armeabi");

    /** Loads a native library that does not exist, as ExecuTorch's Module does on an ABI the AAR lacks. */
    static final class NativeProbe {
        static {
            System.loadLibrary("lazydit_library_for_no_abi");
        }

        static void touch() {
        }
    }

    @Test
    public void aMissingNativeLibraryNamesTheAbisAndTheFix() {
        UnsatisfiedLinkError first = assertThrows(UnsatisfiedLinkError.class, NativeProbe::touch);
        String msg = Failures.describe(first, ARM32, "dev.lazydit.core.");
        assertThat(msg, containsString("native library cannot be loaded"));
        assertThat(msg, containsString("ABIs: armeabi-v7a, armeabi"));
        assertThat(msg, containsString("arm64-v8a and x86_64 only"));
        assertThat(msg, containsString("lazydit_library_for_no_abi"));
        assertThat(msg, not(containsString("\n")));

        // Every later use of the class fails without the library's name: still the same diagnosis.
        NoClassDefFoundError later = assertThrows(NoClassDefFoundError.class, NativeProbe::touch);
        assertThat(Failures.describe(later, ARM32, "dev.lazydit.core."), containsString("native library cannot be loaded"));
        assertThat(Failures.describe(first, ARM64, "dev.lazydit.core."), containsString("install a build that packages"));
    }

    @Test
    public void anOutOfMemoryErrorBecomesAMessage() {
        OutOfMemoryError oom = assertThrows(OutOfMemoryError.class, () -> {
            long[] tooBig = new long[Integer.MAX_VALUE];
            tooBig[0] = 1;
        });
        String msg = Failures.describe(oom, ARM64);
        assertThat(msg, containsString("not enough memory"));
        assertThat(msg, containsString("side by side"));
        assertThat(msg, not(containsString("\n")));
    }

    @Test
    public void otherThrowablesKeepTheirNameOnOneLine() {
        assertEquals("IllegalStateException: Module has been destroyed here",
                Failures.describe(new IllegalStateException("Module has been destroyed\nhere"), ARM64));
        assertEquals("NullPointerException", Failures.describe(new NullPointerException(), ARM64));
        assertEquals("x.pte: missing", Failures.describe(new BundleException("x.pte: missing"), ARM64));
        // A class missing for another reason is not blamed on the native library.
        assertEquals("NoClassDefFoundError: com/example/Other",
                Failures.describe(new NoClassDefFoundError("com/example/Other"), ARM64));
    }
}
