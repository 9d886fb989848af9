import DeidCSV

/// Profiles a whole input: reads every record (the reader refuses a field that is not valid
/// UTF-8), and reports progress every `progressInterval` records.
/// - Complexity: one pass over the input; memory bounded by `ProfileOptions`.
package func profile(
    reader: CSVReader, options: ProfileOptions = ProfileOptions(),
    progressInterval: Int = 1 << 16,
    progress: ((InputProgress) -> Void)? = nil
) throws -> FileProfile {
    var profiler = Profiler(header: reader.header, options: options)
    // Two records, swapped each row, so the profiler can compare a row with the one before
    // without copying either.
    var record = CSVRecord()
    var previous = CSVRecord()
    var hasPrevious = false
    while try reader.readRecord(into: &record) {
        profiler.add(record, previous: hasPrevious ? previous : nil)
        if let progress, record.number % progressInterval == 0 {
            progress(reader.source.progress)
        }
        swap(&record, &previous)
        hasPrevious = true
    }
    return profiler.finish(
        source: reader.source.displayName, delimiter: reader.delimiter,
        compressed: reader.source.isCompressed)
}
