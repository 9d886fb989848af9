/// The column names of a CSV file, from its first row. Names are unique and non-empty.
public struct CSVHeader: Sendable, Equatable {
    /// The names in file order.
    public let names: [String]
    private let indexByName: [String: Int]

    /// Validates `names`: an empty or repeated name is an error naming the column's position.
    public init(names: [String], source: String = "<header>") throws {
        var index: [String: Int] = [:]
        for (offset, name) in names.enumerated() {
            let position = InputPosition(source: source, line: 1)
            if name.isEmpty { throw CSVError(.emptyColumnName(index: offset + 1), at: position) }
            if let first = index[name] {
                throw CSVError(.duplicateColumnName(name: name, index: offset + 1, firstIndex: first + 1), at: position)
            }
            index[name] = offset
        }
        self.names = names
        self.indexByName = index
    }

    /// The number of columns.
    public var count: Int { names.count }

    /// The 0-based index of the column called `name`.
    public func index(of name: String) -> Int? { indexByName[name] }
}

/// The field delimiters `deid` reads and detects.
public enum CSVDelimiter: UInt8, Sendable, CaseIterable {
    case comma = 0x2C
    case semicolon = 0x3B
    case tab = 0x09
    case pipe = 0x7C

    /// Parses `,`, `;`, `|`, a tab character, or the words `comma`, `semicolon`, `tab`, `pipe`.
    public init?(argument: String) {
        switch argument {
        case ",", "comma": self = .comma
        case ";", "semicolon": self = .semicolon
        case "\t", "\\t", "tab": self = .tab
        case "|", "pipe": self = .pipe
        default: return nil
        }
    }

    /// The delimiter as printed for people.
    public var name: String {
        switch self {
        case .comma: return "comma"
        case .semicolon: return "semicolon"
        case .tab: return "tab"
        case .pipe: return "pipe"
        }
    }

    /// The delimiter that occurs most often outside quotes in the header line `line` (comma on a
    /// tie or when none occurs).
    public static func detect<Bytes: Sequence>(headerLine line: Bytes) -> CSVDelimiter where Bytes.Element == UInt8 {
        var counts = [Int](repeating: 0, count: allCases.count)
        var quoted = false
        for byte in line {
            if byte == 0x22 {
                quoted.toggle()
                continue
            }
            if quoted { continue }
            if byte == 0x0A || byte == 0x0D { break }
            if let index = allCases.firstIndex(where: { $0.rawValue == byte }) { counts[index] += 1 }
        }
        var best = CSVDelimiter.comma
        var bestCount = 0
        for (index, delimiter) in allCases.enumerated() where counts[index] > bestCount {
            best = delimiter
            bestCount = counts[index]
        }
        return best
    }
}

extension CSVHeader {
    /// No columns: the header of a reader before its first row is read.
    static let empty = try! CSVHeader(names: [])
}
