import DeidCSV
import Foundation

/// A generalization hierarchy in ARX's CSV format: one line per value, `value;level1;level2;...`,
/// every line with the same number of levels, no header row. It is read with the project's CSV
/// reader (libcsv): quoted values (`"Flat, purpose-built";Flat;*`, doubled quotes), any line
/// ending and a byte-order mark are handled as in data files. The delimiter is `;` when the
/// first line has one outside quotes, else detected like a data file's (`,`, tab, `|`). A value
/// listed twice with the same levels is taken once (ARX's own files have such lines); with
/// different levels it is an error.
///
/// Hierarchies can be large (ARX's ZIP hierarchy has 100,000 lines), so a table keeps every
/// field in one byte buffer and indexes values by hash, and a file is read once per process:
/// the policy loader and the plan share the table.
package final class HierarchyTable: @unchecked Sendable {
    package let levelCount: Int
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
    package static func load(path: String, displayName: String) throws -> HierarchyTable {
        lock.lock()
        defer { lock.unlock() }
        if let table = loaded[path] { return table }
        let table = try HierarchyTable(path: path, displayName: displayName)
        loaded[path] = table
        return table
    }

    /// Reads `path`; `displayName` names it in errors.
    package convenience init(path: String, displayName: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyError(message: "cannot read the hierarchy file \(displayName)")
        }
        try self.init(contents: Array(data), displayName: displayName)
    }

    /// Reads a hierarchy from the bytes of its file; `displayName` names it in errors.
    package init(contents: [UInt8], displayName: String) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(contents.count)
        var ends: [Int] = []
        var lineNumbers: [Int] = []
        var width = 0
        do {
            let options = CSVReadOptions(delimiter: Self.delimiter(of: contents))
            let reader = try CSVReader(
                headerless: InputSource(bytes: contents, displayName: displayName), options: options
            ) { column in
                column == 0 ? "value" : "level \(column)"
            }
            width = reader.header.count
            guard width >= 2 else {
                throw KeyError(
                    message: "\(displayName):1: a hierarchy line needs a value and at least one level, separated by ';'"
                )
            }
            var record = CSVRecord()
            while try reader.readRecord(into: &record) {
                for field in 0..<width {
                    bytes += record[field]
                    ends.append(bytes.count)
                }
                lineNumbers.append(record.line)
            }
        } catch let error as CSVError {
            if error.kind == .emptyInput { throw KeyError(message: "the hierarchy file \(displayName) is empty") }
            throw KeyError(message: "\(error.position): \(error.message)")
        }
        let lines = lineNumbers.count
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
                    let same = (1..<width).allSatisfy {
                        bytes[Self.range(line * width + $0, ends)] == bytes[Self.range(other * width + $0, ends)]
                    }
                    guard same else {
                        throw KeyError(
                            message:
                                "\(displayName):\(lineNumbers[line]): a value is listed twice, with different levels (first on line \(lineNumbers[other]))"
                        )
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

    /// `;` (ARX's delimiter) when the first line holds one outside quotes, else the delimiter a
    /// data file's header line would give.
    package static func delimiter(of contents: [UInt8]) -> CSVDelimiter {
        var quoted = false
        for byte in contents {
            if byte == 0x22 {
                quoted.toggle()
            } else if !quoted {
                if byte == 0x0A || byte == 0x0D { break }
                if byte == CSVDelimiter.semicolon.rawValue { return .semicolon }
            }
        }
        return CSVDelimiter.detect(headerLine: contents)
    }

    private static func range(_ field: Int, _ ends: [Int]) -> Range<Int> {
        (field == 0 ? 0 : ends[field - 1])..<ends[field]
    }

    private static func slot(_ bytes: [UInt8], _ range: Range<Int>, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: FieldHash.hash(bytes[range])) & mask
    }

    /// The value's generalization at `level` (1...levelCount); nil when the value is not listed.
    package func generalization(of value: ArraySlice<UInt8>, level: Int) -> [UInt8]? {
        var slot = Int(truncatingIfNeeded: FieldHash.hash(value)) & mask
        while slots[slot] != 0 {
            let line = Int(slots[slot]) - 1
            if bytes[Self.range(line * width, ends)].elementsEqual(value) {
                return Array(bytes[Self.range(line * width + level, ends)])
            }
            slot = (slot + 1) & mask
        }
        return nil
    }
}
