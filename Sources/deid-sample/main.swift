import ArgumentParser
import DeidCSV
import DeidKit

#if canImport(Glibc)
    import Glibc
#endif

/// Generates seeded, realistic smart-meter data (fictitious households) for demos, tests and
/// benchmarks. The same options give the same bytes.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deid-sample",
        abstract: "Generate a seeded, realistic raw smart-meter extract (fictitious households).",
        discussion: """
            One row per household and half hour: meter_id, customer_name, email, postcode,
            dwelling_type, occupants, tariff, reading_time, kwh. About 105 bytes a row:
            --households 600 --days 365 is about 1.1 GB.

            Examples:
              deid-sample --households 30 --days 28 --seed 42 -o Datasets/smart_meter_sample.csv
              deid-sample --households 600 --days 365 -o big.csv.gz
              deid-sample --households 1000 --days 220 --order time -o time-ordered.csv
            """)

    @Option(help: "Number of households.") var households: Int = 30
    @Option(help: "Number of days of half-hourly readings.") var days: Int = 28
    @Option(help: ArgumentHelp("First day, YYYY-MM-DD.", valueName: "date")) var start: String = "2013-01-01"
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(
        help: ArgumentHelp(
            "Row order: household (each meter's series in turn) or time (every meter's reading of a half hour, then the next, as a meter-data system exports).",
            valueName: "order"))
    var order: String = "household"
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("Output file (gzip when it ends in .gz), or - for stdout.", valueName: "file"))
    var output: String = "-"

    func validate() throws {
        if !(1...900_000).contains(households) { throw ValidationError("--households must be 1 to 900000") }
        if !(1...36_600).contains(days) { throw ValidationError("--days must be 1 to 36600") }
        if startDay == nil { throw ValidationError("--start must be a date YYYY-MM-DD (got '\(start)')") }
        if SmartMeterGenerator.Settings.Order(rawValue: order) == nil {
            throw ValidationError("--order must be household or time (got '\(order)')")
        }
        if output.isEmpty { throw ValidationError("--output needs a file name; an empty one was given") }
    }

    private var startDay: Int? {
        let parts = start.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        return SmartMeterGenerator.day(year: parts[0], month: parts[1], day: parts[2])
    }

    func run() throws {
        var settings = SmartMeterGenerator.Settings(households: households, days: days, startDay: startDay!, seed: seed)
        settings.order = SmartMeterGenerator.Settings.Order(rawValue: order)!
        let file = try OutputFile(path: output, compressionLevel: 6)
        let writer = CSVWriter(output: file)
        try SmartMeterGenerator(settings: settings).write(to: writer)
        try writer.finish()
    }
}

signal(SIGPIPE, SIG_IGN)
TemporaryFiles.removeAllOnInterrupt { _ in FileHandleError.print("deid-sample: interrupted; no output was written") }
do {
    var command = try SampleCommand.parseAsRoot()
    try command.run()
} catch let error as CSVError {
    FileHandleError.print("deid-sample: \(error)")
    exit(2)
} catch is BrokenPipe {
    exit(0)
} catch {
    SampleCommand.exit(withError: error)
}

enum FileHandleError {
    static func print(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
