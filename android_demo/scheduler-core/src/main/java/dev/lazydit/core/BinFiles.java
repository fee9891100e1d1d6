package dev.lazydit.core;

import java.io.DataInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The bundle's raw tensor files: little-endian values in C order, no header. */
public final class BinFiles {
    private BinFiles() {
    }

    public static byte[] readBytes(File file) throws IOException {
        long n = file.length();
        if (n > Integer.MAX_VALUE) {
            throw new IOException(file + ": too large to read into memory");
        }
        byte[] out = new byte[(int) n];
        try (DataInputStream in = new DataInputStream(new FileInputStream(file))) {
            in.readFully(out);
        }
        return out;
    }

    /** Reads {@code count} float32 values, refusing a file of any other size. */
    public static float[] readFloat32(File file, int count) throws IOException {
        byte[] bytes = readBytes(file);
        if (bytes.length != 4L * count) {
            throw new IOException(file + ": has " + bytes.length + " bytes, expected " + 4L * count
                    + " (" + count + " float32 values)");
        }
        float[] out = new float[count];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }
}
