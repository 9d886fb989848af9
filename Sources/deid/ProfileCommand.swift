import ArgumentParser
import DeidCSV
import DeidKit

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Profile a CSV file: per column its type, empties, distinct values and a suggested role.",
        discussion: """
            The first thing to run on a new file. One streaming pass, in bounded memory: distinct
            values are counted exactly up to --exact-distinct per column, then estimated
            (HyperLogLog, about 1% error). Memory: at most about 300 MB however large or wide
            the file (a 1 GB, 9-column file profiles in under 30 MB).

            Suggested roles: identifier (drop or pseudonymize), quasi_identifier, sensitive,
            insensitive, entity (the column naming the household or person that records belong
            to) and timestamp. Each comes with its reason. Review them: they are suggestions.

            Examples:
              deid profile meters.csv
              deid profile meters.csv.gz --json > profile.json
              deid profile meters.csv --policy-out policy.yaml
              zcat meters.csv.gz | deid profile - --delimiter ';'
            """)

    @OptionGroup var input: InputOptions

    @Flag(
        help:
            "Print the profile as JSON (stable keys: rows, columns[].name/type/empty/distinct/distinct_exact/role/reason)."
    )
    var json = false

    @Option(
        help: ArgumentHelp("Write a starter policy naming every column with its suggested role.", valueName: "file"))
    var policyOut: String?

    @Option(help: ArgumentHelp("Distinct values counted exactly per column before estimating.", valueName: "n"))
    var exactDistinct: Int = 100_000

    func validate() throws {
        if exactDistinct < 1 || exactDistinct > 10_000_000 {
            throw ValidationError("--exact-distinct must be 1 to 10000000")
        }
        if policyOut == "-" { throw ValidationError("--policy-out needs a file name") }
        try requirePath(policyOut, "--policy-out")
    }

    func run() throws {
        let reader = try input.openReader()
        var options = ProfileOptions()
        options.exactDistinctLimit = exactDistinct
        let progress = ProgressBar(label: "profiling \(reader.source.displayName)")
        let result: FileProfile
        do {
            result = try profile(reader: reader, options: options) { progress.update($0) }
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        if let policyOut {
            let output = try OutputFile(
                path: policyOut, compress: false,
                protecting: [reader.source.identity].compactMap { $0 })
            let text = StarterPolicy(profile: result, datasetName: datasetName(of: reader.source.displayName)).yaml()
            try output.write(text: text)
            try output.commit()
        }
        try StandardOutput.write(json ? try result.json() + "\n" : result.table())
        if let policyOut, !json { Diagnostics.write("deid: wrote a starter policy to \(policyOut)\n") }
    }

    private func datasetName(of path: String) -> String {
        var name = String(path.split(separator: "/").last ?? "stdin")
        for suffix in [".gz", ".csv", ".tsv", ".txt"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name == "<stdin>" ? "stdin" : name
    }
}
