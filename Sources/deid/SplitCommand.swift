import ArgumentParser
import DeidCSV
import DeidKit

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract:
            "Deal one input's records into parts by entity, for shards that hold whole entities (Docs/SCALE-OUT.md).",
        discussion: """
            For a policy that aggregates per entity and period, each shard must hold every
            record of the entities it holds. A time-ordered export does not: each file holds a
            period of every meter. deid split deals one input's records to --parts plain CSV
            files by a hash of the policy's entity column (the same on every machine), so that
            part N of every input's split holds the same entities: the parts of one index, in
            input order, make one shard. Records keep their order; each part has the header.

            The directory (new, or empty) receives part-NNNNN.csv for every part that received
            records, and split.json: the input's name, size, SHA-256 and records, and each part's
            records and SHA-256. Give the receipts to deid stats --merge with the shards'
            statistics: it checks that the shards counted every part once, and the release's
            manifest lists the original inputs. On an error nothing is left in the directory.
            The parts hold the input's records as read: keep them as confidential as the input.

            Examples:
              deid split --policy monthly.yaml --parts 16 --out split/0 meters-2024-01.csv.gz
              deid stats --policy monthly.yaml --out shard-3.json split/*/part-00003.csv
              deid stats --merge --out all.json split/*/split.json shard-*.json
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The policy file (YAML, see Docs/POLICY.md).", valueName: "file"))
    var policy: String

    @Option(help: ArgumentHelp("How many parts to deal the records to (1 to 100000).", valueName: "n"))
    var parts: Int

    @Option(name: .shortAndLong, help: ArgumentHelp("The directory for the parts (new, or empty).", valueName: "dir"))
    var out: String

    @Argument(help: "The CSV input (plain or gzip), or - for standard input.")
    var input: String

    @OptionGroup var dialect: DialectOptions

    func validate() throws {
        try requirePath(policy, "--policy")
        try requirePath(out, "--out")
        try requirePath(input, "the input")
        if !(1...100_000).contains(parts) { throw ValidationError("--parts must be 1 to 100000") }
    }

    func run() throws {
        let progress = ProgressBar(label: "splitting \(input)")
        defer { progress.finish() }
        let request = TransformRequest(policyPath: policy, inputs: [input], readOptions: dialect.readOptions)
        try ScaleOut.split(request, parts: parts, directory: out) { progress.update($0) }
    }
}
