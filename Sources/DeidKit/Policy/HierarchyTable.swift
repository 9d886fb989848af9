import DeidCSV
import Foundation

/// A generalization hierarchy in ARX's CSV format: one line per value, `value;level1;level2;...`,
/// every line with the same number of levels. A value listed twice with the same levels is
/// taken once (ARX's own files have such lines); with different levels it is an error.
///
/// Hierarchies can be large (ARX's ZIP hierarchy has 100,000 lines), so a table keeps every
/// field in one byte buffer and indexes values by hash, and a file is read once per process:
/// the policy loader and the plan share the table.
public final class HierarchyTable: @unchecked Sendable {
    public let levelCount: Int
    /// All fields' bytes; line i's field j spans `bytes[ends[i * width + j - 1] ..< ends[i * width + j]]`.
    private let bytes: [UInt8]
    private let ends: [Int]
    private let width: Int
    /// Open addressing: slot -> line + 1 (0 = empty).
    private let slots: [Int32]
    private let mask: Int

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: HierarchyTable] = [:]

    /// The table in `path`, read once per process; `displayName` names it in errors.
    public static func load(path: String, displayName: String) throws -> HierarchyTable {
        lock.lock()
        defer { lock.unlock() }
        if let table = loaded[path] { return table }
        let table = try HierarchyTable(path: path, displayName: displayName)
        loaded[path] = table
        return table
    }

    /// Reads `path`; `displayName` names it in errors.
    public init(path: String, displayName: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyError(message: "cannot read the hierarchy file \(displayName)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(data.count)
        var ends: [Int] = []
        var width: Int?
        var lines = 0
        var lineNumbers: [Int] = []
        // One pass over the bytes: lines at LF (a CR before it dropped), fields at ';'.
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let text = raw.bindMemory(to: UInt8.self)
            var lineStart = 0
            var lineNumber = 0
            while lineStart < text.count {
                var lineEnd = lineStart
                while lineEnd < text.count && text[lineEnd] != 0x0A { lineEnd += 1 }
                let next = lineEnd + 1
                lineNumber += 1
                var start = lineStart, end = lineEnd
                lineStart = next
                if end > start && text[end - 1] == 0x0D { end -= 1 }
                if start == end { continue }
                if lineNumber == 1, end - start >= 3, text[start] == 0xEF, text[start + 1] == 0xBB, text[start + 2] == 0xBF { start += 3 }
                var fields = 1
                for index in start..<end where text[index] == 0x3B { fields += 1 }
                guard fields >= 2 else {
                    throw KeyError(message: "\(displayName):\(lineNumber): a hierarchy line needs a value and at least one level, separated by ';'")
                }
                if let width, width != fields {
                    throw KeyError(message: "\(displayName):\(lineNumber): \(fields - 1) levels; the first line has \(width - 1)")
                }
                width = fields
                var fieldStart = start
                for index in start...end where index == end || text[index] == 0x3B {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[fieldStart..<index]))
                    ends.append(bytes.count)
                    fieldStart = index + 1
                }
                lines += 1
                lineNumbers.append(lineNumber)
            }
        }
        guard let width else { throw KeyError(message: "the hierarchy file \(displayName) is empty") }
        self.bytes = bytes
        self.ends = ends
        self.width = width
        levelCount = width - 1
        var capacity = 16
        while capacity < lines * 2 { capacity <<= 1 }
        mask = capacity - 1
        var slots = [Int32](repeating: 0, count: capacity)
        for line in 0..<lines {
            let value = Self.range(line * width, ends)
            var slot = Self.slot(bytes, value, mask)
            var duplicate = false
            while slots[slot] != 0 {
                let other = Int(slots[slot]) - 1
                if bytes[Self.range(other * width, ends)] == bytes[value] {
                    let same = (1..<width).allSatisfy { bytes[Self.range(line * width + $0, ends)] == bytes[Self.range(other * width + $0, ends)] }
                    guard same else {
                        throw KeyError(message: "\(displayName):\(lineNumbers[line]): a value is listed twice, with different levels (first on line \(lineNumbers[other]))")
                    }
                    duplicate = true
                    break
                }
                slot = (slot + 1) & mask
            }
            if duplicate { continue }
            slots[slot] = Int32(line + 1)
        }
        self.slots = slots
    }

    private static func range(_ field: Int, _ ends: [Int]) -> Range<Int> { (field == 0 ? 0 : ends[field - 1])..<ends[field] }

    private static func slot(_ bytes: [UInt8], _ range: Range<Int>, _ mask: Int) -> Int {
        bytes.withUnsafeBytes { Int(truncatingIfNeeded: FieldHash.hash(UnsafeRawBufferPointer(rebasing: $0[range]))) & mask }
    }

    /// The value's generalization at `level` (1...levelCount); nil when the value is not listed.
    public func generalization(of value: ArraySlice<UInt8>, level: Int) -> [UInt8]? {
        let key = Array(value)
        var slot = key.withUnsafeBytes { Int(truncatingIfNeeded: FieldHash.hash($0)) & mask }
        while slots[slot] != 0 {
            let line = Int(slots[slot]) - 1
            if bytes[Self.range(line * width, ends)].elementsEqual(key) {
                return Array(bytes[Self.range(line * width + level, ends)])
            }
            slot = (slot + 1) & mask
        }
        return nil
    }
}
