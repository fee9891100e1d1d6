/// IEEE 754 half precision as raw bits, converted by hand: Swift's `Float16` is missing on Intel Macs.
public enum Half {
    /// The float32 value of half-precision `bits` (exact: every half is a float).
    public static func toFloat(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1f)
        let mantissa = UInt32(bits & 0x03ff)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // mantissa * 2^-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }

    /// `value` rounded to the nearest half (ties to even), as raw bits; overflow gives infinity.
    public static func fromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xff)
        var mantissa = bits & 0x007f_ffff
        if exponent == 255 {
            return sign | 0x7c00 | (mantissa != 0 ? 0x0200 : 0)
        }
        var e = exponent - 112  // rebias 127 -> 15
        if e >= 31 { return sign | 0x7c00 }
        if e <= 0 {
            if e < -10 { return sign }
            mantissa |= 0x0080_0000  // the implicit leading one
            let shift = UInt32(14 - e)
            var result = mantissa >> shift
            let rest = mantissa & ((UInt32(1) << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && (result & 1) == 1) { result += 1 }
            return sign | UInt16(truncatingIfNeeded: result)
        }
        var result = mantissa >> 13
        let rest = mantissa & 0x1fff
        if rest > 0x1000 || (rest == 0x1000 && (result & 1) == 1) {
            result += 1
            if result == 0x400 {
                result = 0
                e += 1
                if e >= 31 { return sign | 0x7c00 }
            }
        }
        return sign | UInt16(e << 10) | UInt16(truncatingIfNeeded: result)
    }
}
