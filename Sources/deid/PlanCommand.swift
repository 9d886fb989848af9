import ArgumentParser
import DeidCSV
import DeidKit

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Merge shards' statistics and choose the privacy transformation for all of them (Docs/SCALE-OUT.md).",
        discussion: """
            The second of four steps (deid stats, deid plan, deid apply --plan, deid publish
            --plan). The statistics
            files are merged (any order gives the same result), the policy's privacy models are
            searched on the merge exactly as deid publish searches one machine's statistics,
            and the plan is written: the levels, the suppressed classes and entities, the key
            ids (never the keys), the seed, the release id per-release keys derive from, and
            the manifest's privacy object. A policy without a privacy section has no search: its
            plan holds the key ids, the seed and the release id. The plan names suppressed
            entities: keep it as confidential as the input.

            Exit codes: 0 a plan was written; 1 no transformation satisfies the models (the
            reasons are printed, nothing is written); 2 bad input.

            Examples:
              DEID_KEY=... deid plan --policy policy.yaml --out plan.json part-*.stats.json
            """)

    @Option(
        name: .shortAndLong, help: ArgumentHelp("The policy file the statistics were made with.", valueName: "file"))
    var policy: String

    @Option(
        name: .shortAndLong, help: ArgumentHelp("The plan file to write, or - for standard output.", valueName: "file"))
    var out: String = "-"

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Draw noise from this seed in every shard (for tests: seeded noise is not private).", valueName: "n"),
        transform: Seed.parse)
    var seed: UInt64?

    @Argument(
        help:
            "The shards' statistics files (deid stats), and split receipts (deid split) when the shards are split parts."
    )
    var statistics: [String]

    func validate() throws {
        if statistics.isEmpty { throw ValidationError("give at least one statistics file") }
        for file in statistics { try requirePath(file, "a statistics file") }
        try requirePath(policy, "--policy")
        try requirePath(out, "--out")
    }

    func run() throws {
        let merged = try ScaleOut.merge(paths: statistics)
        let plan = try ScaleOut.plan(merged, policyPath: policy, seed: seed)
        let file = try OutputFile(path: out, compress: false)
        try file.write(bytes: try ScaleOut.encode(plan))
        try file.commit()
        if out != "-" {
            var line = "plan \(out): \(plan.summary.recordsOut) records in \(plan.summary.inputs.count) inputs"
            if let privacy = plan.privacy {
                let levels = privacy.transformation.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                line +=
                    "; levels \(levels.joined(separator: ", ")); \(privacy.suppressedRecords) records suppressed; smallest class \(privacy.minClassSize)"
            } else {
                line += "; no privacy section, so no search (the release's gates are checked when it is assembled)"
            }
            try StandardOutput.write(line + "\n")
        }
    }
}
