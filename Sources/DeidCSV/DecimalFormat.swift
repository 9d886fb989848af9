import Foundation

/// Decimal numbers written with a fixed count of places, straight into a byte buffer: the
/// one formatter of computed numbers (noise, rounding, aggregates) for records and writers.
public enum DecimalFormat {
    /// The most bytes `write` produces for a number it formats itself (sign, 16 digits, point).
    static let maximumBytes = 24

    /// Writes `value` with exactly `places` decimals (0 to 15; halves away from zero; `-0`
    /// written as `0`) at `target`, which has room for `maximumBytes`; returns the count, or
    /// nil for a number too large for 16 digits (the caller formats it another way).
    @inline(__always)
    static func write(_ value: Double, places requested: Int, to target: UnsafeMutablePointer<UInt8>) -> Int? {
        let places = min(max(requested, 0), 15)
        let scaled = (value * powersOfTen[places]).rounded()
        guard abs(scaled) < 9e15 else { return nil }
        var units = Int64(scaled)
        var count = 0
        if units < 0 {
            target[0] = 0x2D
            count = 1
            units = -units
        }
        var digits = 1
        var probe = units / 10
        while probe > 0 { digits &+= 1; probe /= 10 }
        let width = Swift.max(digits, places &+ 1) &+ (places > 0 ? 1 : 0)
        var position = count &+ width &- 1
        var written = 0
        while position >= count {
            if places > 0 && written == places {
                target[position] = 0x2E
            } else {
                target[position] = UInt8(truncatingIfNeeded: 0x30 &+ units % 10)
                units /= 10
            }
            written &+= 1
            position &-= 1
        }
        return count &+ width
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

    static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }
}

extension CSVWriter {
    /// Appends a number with exactly `places` decimals, written in place.
    public func append(decimal value: Double, places: Int) {
        let core = self.core
        core.pointee.buffer.reserve(DecimalFormat.maximumBytes &+ 1)
        if core.pointee.fieldsInRecord > 0 { core.pointee.buffer.appendReserved(core.pointee.delimiter) }
        core.pointee.fieldsInRecord &+= 1
        if let count = DecimalFormat.write(value, places: places, to: core.pointee.buffer.base + core.pointee.buffer.count) {
            core.pointee.buffer.advance(by: count)
        } else {
            var text: [UInt8] = []
            DecimalFormat.append(value, places: places, to: &text)
            text.withUnsafeBytes { core.pointee.buffer.append($0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: text.count) }
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
