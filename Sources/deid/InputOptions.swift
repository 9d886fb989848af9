import ArgumentParser
import DeidCSV

/// Options shared by every command that reads a CSV file.
struct InputOptions: ParsableArguments {
    @Argument(help: "The CSV file (plain or gzip, recognised by its content), or - for standard input.")
    var file: String

    @Option(help: ArgumentHelp("The field delimiter: , ; | or tab. Detected from the header line when not given.",
                               valueName: "char"))
    var delimiter: String?

    @Option(help: ArgumentHelp("The largest field or record accepted, in MiB; a larger one is an error.", valueName: "MiB"))
    var maxFieldSize: Int = 16

    func validate() throws {
        if let delimiter, CSVDelimiter(argument: delimiter) == nil {
            throw ValidationError("--delimiter must be one of , ; | tab (got '\(delimiter)')")
        }
        if maxFieldSize < 1 || maxFieldSize > 2047 { throw ValidationError("--max-field-size must be 1 to 2047 MiB") }
    }

    /// Opens the input and reads its header.
    func openReader() throws -> CSVReader {
        let options = CSVReadOptions(delimiter: delimiter.flatMap(CSVDelimiter.init(argument:)),
                                     maxFieldBytes: maxFieldSize << 20, maxRecordBytes: maxFieldSize << 20)
        return try CSVReader(source: InputSource(path: file), options: options)
    }
}
