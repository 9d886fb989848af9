import DeidCSV
import Foundation

/// The project root and the real datasets beside it (`../shared/datasets`). A test that needs
/// a missing file fails, never skips.
public enum Paths {
    public static let root = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")

    public static func shared(_ relative: String) throws -> String {
        let path = "\(root)/../shared/datasets/\(relative)"
        guard FileIdentity.of(path: path) != nil else { throw Missing(path: path) }
        return path
    }

    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "missing \(path): tests need ../shared/datasets beside the project" }
    }
}

/// A small seeded generator for tests (SplitMix64), so a failing case can be replayed.
public struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// A plain reference parser for RFC 4180 with the reader's conventions (blank lines skipped,
/// CR, LF and CR LF ends), written for clarity, not speed. The fast path must agree with it.
public func referenceParse(_ text: [UInt8], delimiter: UInt8 = 0x2C) -> [[String]] {
    var records: [[String]] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var index = 0
    var inRecord = false
    func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field = []
    }
    while index < text.count {
        let byte = text[index]
        if byte == 0x22 && field.isEmpty {
            inRecord = true
            index += 1
            while index < text.count {
                if text[index] == 0x22 {
                    if index + 1 < text.count && text[index + 1] == 0x22 {
                        field.append(0x22)
                        index += 2
                        continue
                    }
                    index += 1
                    break
                }
                field.append(text[index])
                index += 1
            }
            continue
        }
        if byte == delimiter {
            inRecord = true
            endField()
        } else if byte == 0x0A || byte == 0x0D {
            if inRecord {
                endField()
                records.append(fields)
                fields = []
            }
            inRecord = false
        } else {
            inRecord = true
            field.append(byte)
        }
        index += 1
    }
    if inRecord {
        endField()
        records.append(fields)
    }
    return records
}
