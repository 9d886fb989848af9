import DeidCSV
import DeidKit
import DeidTestSupport

func profileText(_ text: String, options: ProfileOptions = ProfileOptions()) throws -> FileProfile {
    let reader = try CSVReader(source: InputSource(bytes: Array(text.utf8), displayName: "fixture.csv"))
    return try profile(reader: reader, options: options)
}

func profileFile(_ path: String, options: ProfileOptions = ProfileOptions()) throws -> FileProfile {
    try profile(reader: CSVReader(source: InputSource(path: path)), options: options)
}

extension FileProfile {
    subscript(column: String) -> ColumnProfile? { columns.first { $0.name == column } }
}

/// Distinct non-empty values per column, counted the plain way (the reference parser, a Set
/// per column). The reference the profiler must agree with.
func referenceDistinct(path: String, delimiter: Character) throws -> (rows: Int, distinct: [String: Int]) {
    let records = referenceParse(try TemporaryDirectory.readFile(path), delimiter: delimiter.asciiValue!)
    let header = records[0]
    var sets = Array(repeating: Set<String>(), count: header.count)
    for record in records.dropFirst() {
        for (index, value) in record.enumerated() where !value.isEmpty { sets[index].insert(value) }
    }
    return (records.count - 1, Dictionary(uniqueKeysWithValues: zip(header, sets.map(\.count))))
}
