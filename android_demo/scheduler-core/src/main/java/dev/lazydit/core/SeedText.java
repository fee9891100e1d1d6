package dev.lazydit.core;

/**
 * The seed text field. The field keeps its own text, so it can be cleared and retyped; the seed is
 * read from that text when Generate is pressed (an empty field has no seed and Generate waits).
 */
public final class SeedText {
    /** 18 decimal digits always fit a long, so no accepted text can overflow. */
    public static final int MAX_DIGITS = 18;

    private SeedText() {
    }

    /**
     * What the field holds after the user typed or pasted {@code typed} over {@code previous}: its
     * digits (so a pasted " 42 " becomes "42"), or {@code previous} when that would exceed
     * {@link #MAX_DIGITS}. The empty string is a valid state.
     */
    public static String edit(String previous, String typed) {
        StringBuilder digits = new StringBuilder(typed.length());
        for (int i = 0; i < typed.length(); i++) {
            char c = typed.charAt(i);
            if (c >= '0' && c <= '9') {
                digits.append(c);
            }
        }
        return digits.length() <= MAX_DIGITS ? digits.toString() : previous;
    }

    /** The seed of a field's text, or null when the field is empty or holds no valid seed. */
    public static Long value(String text) {
        if (text.isEmpty() || text.length() > MAX_DIGITS) {
            return null;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return null;
            }
        }
        return Long.parseLong(text);
    }
}
