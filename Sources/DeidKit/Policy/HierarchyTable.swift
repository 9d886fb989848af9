import Foundation

/// A generalization hierarchy in ARX's CSV format: one line per value, `value;level1;level2;...`,
/// every line with the same number of levels.
public struct HierarchyTable: Sendable {
    /// For each value, its generalizations from level 1 up.
    public let levelsByValue: [[UInt8]: [[UInt8]]]
    public let levelCount: Int

    /// Loads `path`; `displayName` names it in errors.
    public init(path: String, displayName: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyError(message: "cannot read the hierarchy file \(displayName)")
        }
        var table: [[UInt8]: [[UInt8]]] = [:]
        var levels: Int?
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = Array(line)
            if bytes.last == 0x0D { bytes.removeLast() }
            if bytes.isEmpty { continue }
            if lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            let fields = bytes.split(separator: 0x3B, omittingEmptySubsequences: false).map(Array.init)
            guard fields.count >= 2 else {
                throw KeyError(message: "\(displayName):\(lineNumber): a hierarchy line needs a value and at least one level, separated by ';'")
            }
            if let levels, levels != fields.count - 1 {
                throw KeyError(message: "\(displayName):\(lineNumber): \(fields.count - 1) levels; the first line has \(levels)")
            }
            levels = fields.count - 1
            guard table.updateValue(Array(fields.dropFirst()), forKey: fields[0]) == nil else {
                throw KeyError(message: "\(displayName):\(lineNumber): a value is listed twice")
            }
        }
        guard let levels else { throw KeyError(message: "the hierarchy file \(displayName) is empty") }
        levelsByValue = table
        levelCount = levels
    }
}
