import ArgumentParser
import DeidCSV
import DeidKit

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a policy's transforms to a CSV file (for pipelines: no release directory).",
        discussion: """
            The same streaming pipeline as publish: the policy is checked against the input's
            header before any data is read, then every record is filtered and transformed in one
            pass. Output to - streams to stdout; a file output is renamed into place only when
            the whole input was transformed, and gzip-compressed when its name ends in .gz.
            A policy with a privacy section runs the k-anonymity search as publish does (records
            are spooled beside the output, or in TMPDIR) and exits 1 when no transformation
            satisfies its models.

            Examples:
              DEID_KEY=... deid apply --policy policy.yaml meters.csv.gz meters-open.csv.gz
              zcat meters.csv.gz | deid apply -p policy.yaml --seed 7 - - | head

            With --plan (a plan file from deid plan, Docs/SCALE-OUT.md) the input is one shard
            of a run split over machines: no search, the plan's levels, suppressions, seed and
            release id are applied, and the keys must be those the plan was made with.
              DEID_KEY=... deid apply --policy policy.yaml --plan plan.json part-0.csv.gz part-0-out.csv
              DEID_KEY=... deid apply -p monthly.yaml --plan plan.json split/*/part-00003.csv shard-3.csv
            """)

    @OptionGroup var policyOptions: PolicyOptions

    @Argument(
        help: ArgumentHelp(
            "The CSV input (plain or gzip; - for standard input), then the output file (- for standard output). Several inputs of one header, before the output, are read in order as one.",
            valueName: "input ... output"))
    var paths: [String] = []

    var inputs: [String] { Array(paths.dropLast()) }
    var output: String { paths.last! }

    @OptionGroup var dialect: DialectOptions

    @Flag(help: "gzip the output whatever its name.")
    var compress = false

    @Option(
        help: ArgumentHelp(
            "Apply this plan (deid plan) to the input, a shard, instead of searching.", valueName: "file"))
    var plan: String?

    @Option(
        help: ArgumentHelp(
            "With --plan: also write the input's sampled values of the changed columns here, for the assembled release's charts (deid publish --plan --charts).",
            valueName: "file"))
    var charts: String?

    func validate() throws {
        guard paths.count >= 2 else { throw ValidationError("give the input and the output") }
        for input in inputs { try requirePath(input, "an input") }
        try requirePath(output, "the output")
        try requirePath(plan, "--plan")
        try requirePath(charts, "--charts")
        if charts != nil && plan == nil { throw ValidationError("--charts goes with --plan") }
        if plan != nil && policyOptions.seed != nil {
            throw ValidationError("--seed comes from the plan with --plan (give it to deid plan)")
        }
    }

    func run() throws {
        let progress = ProgressBar(label: "applying \(policyOptions.policy)")
        defer { progress.finish() }
        let request = TransformRequest(
            policyPath: policyOptions.policy, inputs: inputs, readOptions: dialect.readOptions,
            seed: policyOptions.seed, compress: compress)
        if let plan {
            let decided = try ScaleOut.load(PlanFile.self, path: plan, what: "plan")
            try ScaleOut.apply(request, plan: decided, output: output, charts: charts) { progress.update($0) }
        } else {
            try Publisher.apply(request, output: output) { progress.update($0) }
        }
    }
}
