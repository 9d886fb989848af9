import ArgumentParser
import DeidCSV

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Check a CSV file and rewrite it in a clean dialect (minimal quoting, LF, optional gzip).",
        discussion: """
            Reads plain or gzip CSV in any supported dialect and writes RFC 4180 CSV with minimal
            quoting. Every record is checked (field count, quoting, size limits); on the first
            error nothing is written. A file output is written beside the destination and renamed
            into place only when the whole input was read. Output to - streams to stdout.

            Examples:
              deid convert meters.csv.gz -o meters.csv
              deid convert export.csv --delimiter ';' -o clean.csv.gz
              deid convert - < raw.csv > clean.csv
            """)

    @OptionGroup var input: InputOptions

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "The output file, or - for standard output. gzip when it ends in .gz.",
            valueName: "file"))
    var output: String = "-"

    @Option(help: ArgumentHelp("The output delimiter: , ; | or tab (default: the input's).", valueName: "char"))
    var outputDelimiter: String?

    @Flag(help: "gzip the output whatever its name.")
    var compress = false

    @Option(help: ArgumentHelp("gzip level, 1 (fastest) to 9 (smallest).", valueName: "n"))
    var compressionLevel: Int = 6

    @Flag(help: "End records with CR LF instead of LF.")
    var crlf = false

    func validate() throws {
        try requirePath(output, "--output")
        if let outputDelimiter, CSVDelimiter(argument: outputDelimiter) == nil {
            throw ValidationError("--output-delimiter must be one of , ; | tab (got '\(outputDelimiter)')")
        }
        if !(1...9).contains(compressionLevel) { throw ValidationError("--compression-level must be 1 to 9") }
    }

    func run() throws {
        let reader = try input.openReader()
        let file = try OutputFile(
            path: output, compress: compress ? true : nil, compressionLevel: compressionLevel,
            protecting: [reader.source.identity].compactMap { $0 })
        let delimiter = outputDelimiter.flatMap(CSVDelimiter.init(argument:)) ?? reader.delimiter
        let writer = CSVWriter(output: file, delimiter: delimiter, crlf: crlf)
        let progress = ProgressBar(label: "converting \(reader.source.displayName)")
        defer { progress.finish() }
        try writer.write(fields: reader.header.names)
        var record = CSVRecord()
        while try reader.readRecord(into: &record) {
            try writer.write(record: record)
            if record.number & 0xFFFF == 0 {
                progress.update(reader.source.progress)
            }
        }
        try writer.finish()
    }
}
