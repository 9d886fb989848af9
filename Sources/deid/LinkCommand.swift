import ArgumentParser
import DeidCSV
import DeidKit
import Foundation

struct LinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Measure what files re-identify when combined: with each other and with every catalogued release.",
        discussion: """
            For every pair of files (both directions), and every file against the release catalog
            with --catalog: finds the columns they share (same name and compatible type, or most
            values in common; a postcode prefix against full postcodes, days against timestamps,
            ages against age bands are joined at the coarser level), joins on them, and counts the
            individuals of the left side that match exactly one individual of the right side
            (unique links). Combinations of the shared columns are ranked by the links they make,
            with the column to coarsen. Pseudonym columns (hex or base32 of one length),
            identifiers and entity columns are compared by their values: a deterministic
            pseudonym or an identifier in two files is a join key.
            Definitions and the JSON schema: Docs/LINKAGE.md.

            Each file is read once, on every core. --sketch counts with KHyperLogLog sketches in
            bounded memory instead of exact tables (estimates; see Docs/LINKAGE.md for their error).

            The catalog: --catalog-path, else $DEID_CATALOG, else .deid/catalog.sqlite here. A
            file that is a catalogued release's data (same SHA-256) is not linked to that release:
            a published release can be checked against everything else.

            Exit codes: 0 within --max-unique-link-share (or none given); 1 a pair exceeds it;
            2 bad input.

            Examples:
              deid link adult_a.csv adult_b.csv
              deid link trips_jan.csv trips_feb.csv --entity medallion --json > links.json
              deid link new_release.csv --catalog --max-unique-link-share 0.01
              deid link meters.csv households.csv --entity LCLid --sketch --no-combinations
              deid link jan.csv feb.csv --columns medallion --entity hack_license
            """)

    @Argument(help: "The files to link (CSV, plain or gzip).")
    var files: [String] = []

    @OptionGroup var dialect: DialectOptions

    @Option(
        help: ArgumentHelp(
            "A column naming the individual (household, person); each file uses the first of these it has. Repeatable.",
            valueName: "column"))
    var entity: [String] = []

    @Option(
        help: ArgumentHelp(
            "Join only on these shared columns (default: every shared quasi-identifier).", valueName: "a,b,c"))
    var columns: String?

    @Flag(help: "Also check every file against every release in the catalog.")
    var catalog = false

    @OptionGroup var location: CatalogLocation

    @Flag(help: "Estimate from KHyperLogLog sketches in bounded memory instead of exact tables.")
    var sketch = false

    @Flag(help: "Measure the full join only: no ranking of column combinations, no suggestion (faster).")
    var noCombinations = false

    @Option(help: ArgumentHelp("Values a sketch keeps (K).", valueName: "K"))
    var sketchSize = LinkRequest.defaultSketchCapacity

    @Option(help: ArgumentHelp("Exit 1 when a pair's unique-link share is above this.", valueName: "share"))
    var maxUniqueLinkShare: Double?

    @Flag(help: "Print the report as JSON (Docs/LINKAGE.md).")
    var json = false

    func validate() throws {
        for file in files { try requirePath(file, "a file") }
        if files.isEmpty { throw ValidationError("give at least one file") }
        if files.count < 2 && !catalog { throw ValidationError("give two files or more, or one with --catalog") }
        if files.contains("-") {
            throw ValidationError("deid link reads named files (each is sampled, then read in full)")
        }
        if let maxUniqueLinkShare, !(0...1).contains(maxUniqueLinkShare) {
            throw ValidationError("--max-unique-link-share must be between 0 and 1")
        }
        if !(256...(1 << 22)).contains(sketchSize) { throw ValidationError("--sketch-size must be 256 to 4194304") }
    }

    func run() throws {
        var options = LinkOptions()
        options.entities = entity
        options.joinColumns = columns.map(columnList)
        options.exact = !sketch
        options.rankCombinations = !noCombinations
        options.sketchCapacity = sketchSize
        options.maxUniqueLinkShare = maxUniqueLinkShare
        if catalog { options.catalog = try location.open()?.all() ?? [] }
        let progress = ProgressBar(label: "linking")
        let outcome: LinkOutcome
        do {
            outcome = try LinkSession.run(paths: files, readOptions: dialect.readOptions, options: options) { _, step in
                progress.update(step)
            }
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        let report = outcome.report
        try StandardOutput.write(json ? try report.json() + "\n" : LinkText.render(report))
        if let gate = report.gate, !gate.passed {
            if json {
                Diagnostics.write(
                    report.failedPairs.map {
                        "deid: \($0.left) -> \($0.right): unique-link share \(String(format: "%.4f", $0.measures.uniqueLinkShare)) exceeds \(gate.maxUniqueLinkShare)\n"
                    }.joined())
            }
            throw ExitCode(1)
        }
    }
}
