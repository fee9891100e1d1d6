package dev.lazydit.core;

/**
 * A bundle that must not run: one line naming the file, the problem and the fix.
 *
 * <p>The message is kept to a single line so that it can be shown as-is in a UI, a log line or a
 * benchmark report.
 */
public final class BundleException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(oneLine(message));
    }

    /** Collapses whitespace runs (including newlines from parser messages) into single spaces. */
    static String oneLine(String message) {
        return message.replaceAll("\\s+", " ").trim();
    }
}
