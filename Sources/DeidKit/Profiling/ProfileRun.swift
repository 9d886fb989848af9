import DeidCSV

/// Profiles a whole input: reads every record, checks that each field is valid UTF-8 (profiling
/// reads every column as text), and reports progress every `progressInterval` records.
/// - Complexity: one pass over the input; memory bounded by `ProfileOptions`.
public func profile(reader: CSVReader, options: ProfileOptions = ProfileOptions(),
                    progressInterval: Int = 1 << 16,
                    progress: ((_ bytesRead: Int, _ totalBytes: Int?) -> Void)? = nil) throws -> FileProfile {
    var profiler = Profiler(header: reader.header, options: options)
    var record = CSVRecord()
    let allColumns = Array(0..<reader.header.count)
    while try reader.readRecord(into: &record) {
        try reader.validateUTF8(record, columns: allColumns)
        profiler.add(record)
        if let progress, record.number % progressInterval == 0 {
            progress(reader.source.bytesConsumed, reader.source.totalBytes)
        }
    }
    return profiler.finish(source: reader.source.displayName, delimiter: reader.delimiter,
                           compressed: reader.source.isCompressed)
}
