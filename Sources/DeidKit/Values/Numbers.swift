import DeidCSV
import Foundation

/// Reading and writing decimal numbers as field bytes, without going through `String`.
enum DecimalText {
    /// The number in `bytes` and its count of decimal places, or nil when the bytes are not a
    /// plain decimal (`-12`, `0.196`, `+3.5`, `1e3`): `DecimalParse`.
    static func parse<Bytes: Collection>(_ bytes: Bytes) -> (value: Double, decimals: Int)?
    where Bytes.Element == UInt8 {
        DecimalParse.parse(bytes)
    }

    static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// `value` with exactly `decimals` places (`-0` written as `0`).
    static func format(_ value: Double, decimals: Int) -> [UInt8] {
        var output: [UInt8] = []
        write(value, decimals: decimals, into: &output)
        return output
    }

    /// Appends `value` with exactly `decimals` places to `output` (`-0` written as `0`).
    static func write(_ value: Double, decimals: Int, into output: inout [UInt8]) {
        DecimalFormat.append(value, places: decimals, to: &output)
    }

    /// The shortest text of a policy number: `5`, `2.5`.
    static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Decimal places needed to write `value` as `label` writes it.
    static func places(of value: Double) -> Int {
        let text = label(value)
        guard let point = text.firstIndex(of: ".") else { return 0 }
        return text.distance(from: point, to: text.endIndex) - 1
    }
}

/// An integer's bytes, least significant first (its little-endian representation).
func littleEndianBytes<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
    (0..<(Integer.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
}
