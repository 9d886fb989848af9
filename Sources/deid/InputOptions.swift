import ArgumentParser
import DeidCSV
import DeidKit
import Foundation

/// How inputs are parsed: the options shared by every command that reads CSV.
struct DialectOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The field delimiter: , ; | or tab. Detected from the header line when not given.",
            valueName: "char"))
    var delimiter: String?

    @Option(
        help: ArgumentHelp("The largest field or record accepted, in MiB; a larger one is an error.", valueName: "MiB"))
    var maxFieldSize: Int = 16

    @Option(
        help: ArgumentHelp(
            "The input's text encoding: utf-8, latin1 or windows-1252 (converted to UTF-8 as it is read; text that is not valid UTF-8 is otherwise an error).",
            valueName: "name"))
    var encoding = "utf-8"

    func validate() throws {
        if let delimiter, CSVDelimiter(argument: delimiter) == nil {
            throw ValidationError("--delimiter must be one of , ; | tab (got '\(delimiter)')")
        }
        if maxFieldSize < 1 || maxFieldSize > 2047 { throw ValidationError("--max-field-size must be 1 to 2047 MiB") }
        if TextEncoding(argument: encoding) == nil {
            throw ValidationError(
                "--encoding must be one of \(TextEncoding.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(encoding)')"
            )
        }
    }

    var readOptions: CSVReadOptions {
        CSVReadOptions(
            delimiter: delimiter.flatMap(CSVDelimiter.init(argument:)),
            maxFieldBytes: maxFieldSize << 20, maxRecordBytes: maxFieldSize << 20,
            encoding: TextEncoding(argument: encoding) ?? .utf8)
    }
}

/// One CSV input and its dialect.
struct InputOptions: ParsableArguments {
    @Argument(help: "The CSV file (plain or gzip, recognised by its content), or - for standard input.")
    var file: String

    @OptionGroup var dialect: DialectOptions

    func validate() throws { try requirePath(file, "the input") }

    /// Opens the input and reads its header.
    func openReader() throws -> CSVReader {
        try CSVReader(
            source: InputSource(path: file, encoding: dialect.readOptions.encoding), options: dialect.readOptions)
    }
}

/// The policy and the randomness of a transform.
struct PolicyOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The policy file (YAML, see Docs/POLICY.md).", valueName: "file"))
    var policy: String

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Draw noise from this seed: the same seed gives the same output bytes. Without it, noise comes from the system's secure random source.",
            valueName: "n"),
        transform: Seed.parse)
    var seed: UInt64?

    func validate() throws { try requirePath(policy, "--policy") }
}

/// A seed: a whole number from 0 to 2^64 - 1 (`--seed -1` is a bad value, not a missing one).
enum Seed {
    static func parse(_ text: String) throws -> UInt64 {
        guard let value = UInt64(text) else {
            throw ValidationError("a seed is a whole number from 0 to \(UInt64.max)")
        }
        return value
    }
}

/// An empty path given as a file name is a usage error, named by its option.
func requirePath(_ path: String?, _ option: String) throws {
    if let path, path.isEmpty { throw ValidationError("\(option) needs a file name; an empty one was given") }
}

/// Where the release catalog is: `--catalog-path`, else `$DEID_CATALOG`, else
/// `.deid/catalog.sqlite` here. Shared by `publish`, `link` and `catalog`.
struct CatalogLocation: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The release catalog (default: $DEID_CATALOG, else .deid/catalog.sqlite).", valueName: "path"))
    var catalogPath: String?

    var path: String { Catalog.location(explicit: catalogPath, environment: ProcessInfo.processInfo.environment) }

    func validate() throws { try requirePath(catalogPath, "--catalog-path") }

    /// The catalog, or nil (with a note) when there is none yet.
    func open() throws -> Catalog? {
        guard FileManager.default.fileExists(atPath: path) else {
            Diagnostics.write("deid: note: no catalog at \(path): nothing published yet\n")
            return nil
        }
        let catalog = try Catalog(path: path, create: false)
        // What a killed publish left pending is settled when no publish is under way (a
        // reader that cannot write the catalog still reads it).
        try? catalog.settlePendingIfIdle()
        return catalog
    }
}

/// A comma-separated list of column names (`a, b,c`), empty items dropped.
func columnList(_ text: String) -> [String] {
    text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
