// Drives the streaming core alone, for Benchmarks/run.sh: `deid-bench parse FILE` reads every
// record; `deid-bench passthrough FILE OUT` reads and writes every record. Prints records and
// seconds. Kept out of the library so that it has no benchmark dependency.
import DeidCSV

#if canImport(Glibc)
    import Glibc
#endif

func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, ["parse", "passthrough"].contains(arguments[1]),
    arguments[1] == "parse" || arguments.count == 4
else {
    print("usage: deid-bench parse FILE | deid-bench passthrough FILE OUT")
    exit(2)
}
do {
    let start = seconds()
    let reader = try CSVReader(source: InputSource(path: arguments[2]))
    var record = CSVRecord()
    var fields = 0
    if arguments[1] == "parse" {
        while try reader.readRecord(into: &record) { fields += record.count }
    } else {
        let output = try OutputFile(path: arguments[3], protecting: [reader.source.identity].compactMap { $0 })
        let writer = CSVWriter(output: output, delimiter: reader.delimiter)
        try writer.write(fields: reader.header.names)
        while try reader.readRecord(into: &record) {
            fields += record.count
            try writer.write(record: record)
        }
        try writer.finish()
    }
    print("records \(reader.recordCount) fields \(fields) seconds \(seconds() - start)")
} catch {
    print("deid-bench: \(error)")
    exit(2)
}
