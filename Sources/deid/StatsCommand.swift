import ArgumentParser
import DeidCSV
import DeidKit

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count one shard's statistics for a plan made on several machines (Docs/SCALE-OUT.md).",
        discussion: """
            The first of four steps that split a publish over machines: deid stats counts each
            shard (with a privacy section, privacy pass 1: the policy's techniques applied, the
            quasi-identifiers' classes, entities and sensitive values counted; without, the
            records read, filtered and written; nothing written but the statistics); deid plan
            merges them and searches; deid apply --plan transforms each shard; deid publish
            --plan assembles the parts into the release.

            A shard is any set of whole input files of one dataset; an individual's records may
            lie in several shards. The statistics file is versioned JSON that grows with the
            classes and entities, not the records. With --merge the arguments are statistics
            files and their merge is written: merging in any grouping or order gives the same
            bytes. The statistics hold every entity's value and the quasi-identifiers' values:
            keep them as confidential as the input.

            Record-by-record policies run in shards, and policies that aggregate per entity and
            period when each entity's records are in one shard (the merge checks; deid split
            makes such shards from any inputs); their risk
            gates (a policy's own, or the defaults) and linkage check are measured when deid
            publish --plan assembles the parts. An aggregate section runs on one machine.

            When the shards are the parts of deid split (whole entities from time-ordered
            inputs), give the splits' receipts (split.json) among the files to merge: the merge
            checks that every part was counted once, and lists the original inputs instead of
            the parts.

            Examples:
              deid stats --policy policy.yaml --out part-0.stats.json part-0.csv.gz
              deid stats --merge --out all.stats.json part-0.stats.json part-1.stats.json
              deid stats --merge --out all.stats.json split/*/split.json shard-*.stats.json
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("The policy file (YAML, see Docs/POLICY.md).", valueName: "file"))
    var policy: String?

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("The statistics file to write, or - for standard output.", valueName: "file"))
    var out: String = "-"

    @Flag(help: "The arguments are statistics files: write their merge.")
    var merge = false

    @Argument(
        help:
            "The shard's CSV inputs (plain or gzip; - for standard input), or statistics files (and split receipts) with --merge."
    )
    var inputs: [String]

    @OptionGroup var dialect: DialectOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input") }
        for input in inputs { try requirePath(input, "an input") }
        try requirePath(out, "--out")
        if !merge && policy == nil { throw ValidationError("--policy is required (except with --merge)") }
        if let policy { try requirePath(policy, "--policy") }
    }

    func run() throws {
        let statistics: StatisticsFile
        if merge {
            statistics = try ScaleOut.merge(paths: inputs)
        } else {
            let progress = ProgressBar(label: "counting \(inputs.count == 1 ? inputs[0] : "\(inputs.count) inputs")")
            defer { progress.finish() }
            let request = TransformRequest(policyPath: policy!, inputs: inputs, readOptions: dialect.readOptions)
            statistics = try ScaleOut.statistics(request) { progress.update($0) }
        }
        let file = try OutputFile(path: out, compress: false)
        try file.write(bytes: try ScaleOut.encode(statistics))
        try file.commit()
    }
}
