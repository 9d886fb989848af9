import Foundation

/// Decimal numbers written with a fixed count of places, straight into a byte buffer: the
/// one formatter of computed numbers (noise, rounding, aggregates) for records and writers.
public enum DecimalFormat {
    /// The most bytes `write` produces for a number it formats itself (sign, 16 digits, point).
    static let maximumBytes = 24

    /// Writes `value` with exactly `places` decimals (0 to 15; halves away from zero; `-0`
    /// written as `0`) at `target`, which has room for `maximumBytes`; returns the count, or
    /// nil for a number too large for 16 digits (the caller formats it another way).
    /// The scaled value is rounded with an integer conversion (no call), its digits written
    /// backwards two at a time into scratch words, then moved in three 8-byte stores.
    @inline(__always)
    static func write(_ value: Double, places requested: Int, to target: UnsafeMutablePointer<UInt8>) -> Int? {
        let places = min(max(requested, 0), 15)
        let scaled = value * powerOfTen(places)
        guard abs(scaled) < 9e15 else { return nil }
        // Halves away from zero, as `rounded()`: below 2^52 the fraction is exact; from there
        // on every Double is a whole number.
        var whole = Int64(scaled)
        let fraction = scaled - Double(whole)
        if fraction >= 0.5 { whole &+= 1 } else if fraction <= -0.5 { whole &-= 1 }
        // `-0.000` is written `0.000`: the sign only goes before a nonzero number.
        let negative = whole < 0
        var units = UInt64(whole.magnitude)
        // 48 bytes of scratch: the text ends at byte 24, and 24 bytes from its start are
        // moved in three words (the target has room for them), not with a call.
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &scratch) { raw in
            let digits = raw.baseAddress.unsafelyUnwrapped
            let pairs = UnsafeRawPointer(digitPairs.utf8Start)
            var position = maximumBytes
            @inline(__always) func pair() {
                let quotient = units / 100
                position &-= 2
                let pair = pairs.loadUnaligned(
                    fromByteOffset: Int(truncatingIfNeeded: units &- quotient &* 100) &* 2, as: UInt16.self)
                digits.storeBytes(of: pair, toByteOffset: position, as: UInt16.self)
                units = quotient
            }
            @inline(__always) func single() {
                let quotient = units / 10
                position &-= 1
                digits.storeBytes(
                    of: UInt8(truncatingIfNeeded: units &- quotient &* 10) &+ 0x30, toByteOffset: position,
                    as: UInt8.self)
                units = quotient
            }
            var remaining = places
            while remaining >= 2 {
                pair()
                remaining &-= 2
            }
            if remaining == 1 { single() }
            if places > 0 {
                position &-= 1
                digits.storeBytes(of: 0x2E, toByteOffset: position, as: UInt8.self)
            }
            while units >= 100 { pair() }
            if units >= 10 { pair() } else { single() }
            if negative {
                position &-= 1
                digits.storeBytes(of: 0x2D, toByteOffset: position, as: UInt8.self)
            }
            let source = UnsafeRawPointer(digits + position)
            let destination = UnsafeMutableRawPointer(target)
            destination.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: 16, as: UInt64.self), toByteOffset: 16, as: UInt64.self)
            return maximumBytes &- position
        }
    }

    /// "00" to "99", two bytes each, in the binary's constant data.
    @inline(__always) static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// 10^n for 0 <= n <= 15, exact, without a table to initialize.
    @inline(__always) static func powerOfTen(_ n: Int) -> Double {
        switch n {
        case 0: 1
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        default: 1e15
        }
    }

    /// Appends `value` with exactly `places` decimals to `output`.
    public static func append(_ value: Double, places: Int, to output: inout [UInt8]) {
        let written: Int? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumBytes) { buffer in
            guard let count = write(value, places: places, to: buffer.baseAddress!) else { return nil }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<count]))
            return count
        }
        if written == nil { output.append(contentsOf: String(format: "%.\(min(max(places, 0), 15))f", value).utf8) }
    }
}

extension CSVWriter {
    /// Appends a number with exactly `places` decimals, written in place.
    public func append(decimal value: Double, places: Int) {
        let core = self.core
        core.pointee.buffer.reserve(DecimalFormat.maximumBytes &+ 1)
        if core.pointee.fieldsInRecord > 0 { core.pointee.buffer.appendReserved(core.pointee.delimiter) }
        core.pointee.fieldsInRecord &+= 1
        if let count = DecimalFormat.write(
            value, places: places, to: core.pointee.buffer.base + core.pointee.buffer.count)
        {
            core.pointee.buffer.advance(by: count)
        } else {
            var text: [UInt8] = []
            DecimalFormat.append(value, places: places, to: &text)
            text.withUnsafeBytes {
                core.pointee.buffer.append($0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: text.count)
            }
        }
    }
}

extension CSVRecord {
    /// Appends a number with exactly `places` decimals.
    public mutating func append(decimal value: Double, places: Int) {
        let start = usedBytes
        if bytes.count < start + DecimalFormat.maximumBytes { growBytes(to: start + DecimalFormat.maximumBytes) }
        let written = bytes.withUnsafeMutableBufferPointer {
            DecimalFormat.write(value, places: places, to: $0.baseAddress.unsafelyUnwrapped + start)
        }
        if let written {
            fieldEnds.append(start + written)
        } else {
            appendField { DecimalFormat.append(value, places: places, to: &$0) }
        }
    }
}

/// Decimal numbers read from field bytes without going through `String` (the reader's twin of
/// `DecimalFormat`).
public enum DecimalParse {
    /// The number in `bytes` and its count of decimal places, or nil when the bytes are not a
    /// plain decimal (`-12`, `0.196`, `+3.5`, `1e3`).
    @inlinable public static func parse<Bytes: Collection>(_ bytes: Bytes) -> (value: Double, decimals: Int)?
    where Bytes.Element == UInt8 {
        if let parsed = bytes.withContiguousStorageIfAvailable({ parse(UnsafeRawBufferPointer($0)) }) { return parsed }
        return Array(bytes).withUnsafeBytes { parse($0) }
    }

    /// The number in `bytes` and its count of decimal places (see the generic `parse`). Up to
    /// 18 digits are read into an integer in one loop without overflow checks, and divided by
    /// an exact power of ten (a correctly rounded result); more digits or an exponent go
    /// through the general parser.
    @inlinable public static func parse(_ bytes: UnsafeRawBufferPointer) -> (value: Double, decimals: Int)? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        let count = bytes.count
        var index = 0
        let sign = base.load(as: UInt8.self)
        let negative = sign == 0x2D
        if negative || sign == 0x2B { index = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var point = -1
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            let digit = byte &- 0x30
            if digit < 10 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                digits &+= 1
            } else if byte == 0x2E && point < 0 {
                point = index
            } else {
                // Only an exponent (`1e3`, `2.5E-1`) needs the general parser; any other byte
                // means the field is not a number (text is rejected without building a String).
                guard digits > 0, byte == 0x65 || byte == 0x45 else { return nil }
                return general(bytes, decimals: point < 0 ? 0 : index &- point &- 1)
            }
            index &+= 1
        }
        guard digits > 0 else { return nil }
        let decimals = point < 0 ? 0 : count &- point &- 1
        guard digits <= 18 else { return general(bytes, decimals: decimals) }
        var value = Double(mantissa)
        if decimals > 0 {
            value /= decimals < exactPowersOfTen.count ? exactPowersOfTen[decimals] : pow(10, Double(decimals))
        }
        return (negative ? -value : value, decimals)
    }

    /// The number in `bytes` by the standard library's parser (many digits, an exponent).
    @usableFromInline static func general(_ bytes: UnsafeRawBufferPointer, decimals: Int) -> (
        value: Double, decimals: Int
    )? {
        guard let text = String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self),
            let value = Double(text),
            value.isFinite
        else { return nil }
        return (value, decimals)
    }

    /// 10^0 ... 10^22, every one exact in a Double.
    @usableFromInline static let exactPowersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }
}
