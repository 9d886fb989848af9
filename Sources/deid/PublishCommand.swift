import ArgumentParser
import DeidCSV
import DeidKit

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Apply a policy to input files and write a release directory: data, manifest.json, report.md.",
        discussion: """
            The policy is loaded and checked against the inputs' header before any data is read;
            every problem is reported at once as POLICY:LINE:COL: error: .... Several inputs with
            the same header are one dataset. The release is written into a temporary directory
            beside DIR and renamed to DIR only when everything succeeded: there is never a half
            release. DIR must not exist. --dry-run reads and checks everything and prints the
            report, writing nothing.

            With a privacy section (k-anonymity, l-diversity, t-closeness), the quasi-identifiers'
            levels are chosen by a search for the least information loss, classes that fail are
            suppressed within the limit, and the manifest's "privacy" object records the result.
            When no transformation satisfies the models, nothing is written and the exit code is 1.

            The release's risk is measured on the data as written (deid risk with the policy's
            roles): report.json, report.html (public: no values) and confidential/report.html
            (the smallest classes with their values: keep it, do not publish it). A policy's
            risk section sets gates (max_prosecutor_risk, min_class_size, max_trace_uniqueness);
            a release that exceeds one is not written (exit 1, reasons listed). --dry-run checks
            the gates too. Safe by default: a policy with no privacy, risk or aggregate section
            gets the gates min_class_size 5 and max_trace_uniqueness 0.5 (4 points).

            With an aggregate section the release is a table of cells (by columns and a time
            bucket) counting distinct entities and totalling the measures, under min_entities
            and dominance rules (failing cells merged or suppressed; margins with complementary
            suppression) or with differential privacy (aggregate.dp: discrete Laplace noise). A
            private release spends its epsilon from the dataset's lifetime budget in the catalog
            (deid catalog budget); one that would overspend is refused (exit 1).

            Every release is recorded in the release catalog (--catalog-path, else $DEID_CATALOG,
            else .deid/catalog.sqlite here; --no-catalog: not recorded): its metadata, class table
            and value sketches, which `deid link --catalog` checks new files against. A policy's
            linkage section (against: [files], catalog: true, max_unique_link_share) checks the
            written data against those files and releases before anything is committed: a release
            whose combination singles out a larger share is not written (exit 1, reasons name the
            files, releases and columns); the check is kept as linkage.json.

            Keys come from the environment or a file named in the policy (env:NAME, file:PATH);
            the manifest records a key id, never the key.

            Examples:
              DEID_KEY=... deid publish --policy policy.yaml --out release-2026-11 meters.csv.gz
              deid publish -p policy.yaml --dry-run january.csv february.csv
              deid publish -p policy.yaml --catalog-path /srv/open-data/catalog.sqlite meters.csv
              deid publish -p Datasets/smart_meter_aggregate.yaml --out areas Datasets/smart_meter_sample.csv

            With --plan and --statistics the inputs are the parts a run in shards wrote (deid
            apply --plan, Docs/SCALE-OUT.md): they are assembled into the release directory and
            catalog entry one machine writes, the release's risk measured on the assembled data.
            With --charts (one per part, in the parts' order, from deid apply --plan --charts)
            report.html charts each changed column before and after, as one machine's does.
              deid publish -p policy.yaml --plan plan.json --statistics all.stats.json --out release part-*.csv
            """)

    @OptionGroup var policyOptions: PolicyOptions

    @Argument(help: "The CSV inputs (plain or gzip), or - for standard input.")
    var inputs: [String]

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("The release directory to create (default: NAME-RELEASEID here).", valueName: "dir"))
    var out: String?

    @Flag(help: "Write the data as .csv.gz.")
    var compress = false

    @Flag(help: "Check the policy and every record and print the report; write nothing.")
    var dryRun = false

    @Flag(help: "Do not record the release in the catalog.")
    var noCatalog = false

    @Option(
        help: ArgumentHelp(
            "Assemble the parts a run in shards wrote under this plan (deid plan); needs --statistics.",
            valueName: "file"))
    var plan: String?

    @Option(help: ArgumentHelp("The merged statistics the plan was made on (deid stats --merge).", valueName: "file"))
    var statistics: String?

    @Option(
        help: ArgumentHelp(
            "With --plan: a part's input charts (deid apply --plan --charts), once per part in the parts' order, for the report's before/after charts.",
            valueName: "file"))
    var charts: [String] = []

    @OptionGroup var location: CatalogLocation

    @OptionGroup var dialect: DialectOptions

    func validate() throws {
        try requirePath(out, "--out")
        for input in inputs { try requirePath(input, "an input") }
        if inputs.isEmpty { throw ValidationError("give at least one input file") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be given once") }
        if dryRun && out != nil { throw ValidationError("--dry-run writes nothing; leave out --out") }
        try requirePath(plan, "--plan")
        try requirePath(statistics, "--statistics")
        if (plan == nil) != (statistics == nil) { throw ValidationError("--plan and --statistics go together") }
        for file in charts { try requirePath(file, "--charts") }
        if !charts.isEmpty && plan == nil { throw ValidationError("--charts goes with --plan") }
        if plan != nil && (dryRun || policyOptions.seed != nil || inputs.contains("-")) {
            throw ValidationError("with --plan the inputs are part files; --dry-run, --seed and - do not apply")
        }
        if noCatalog && location.catalogPath != nil {
            throw ValidationError("--no-catalog records nowhere; leave out --catalog-path")
        }
    }

    func run() throws {
        let progress = ProgressBar(label: "publishing")
        var request = TransformRequest(
            policyPath: policyOptions.policy, inputs: inputs, readOptions: dialect.readOptions,
            seed: policyOptions.seed, compress: compress)
        request.catalogPath = location.path
        request.recordInCatalog = !noCatalog
        let outcome: PublishOutcome
        do {
            if let plan, let statistics {
                let decided = try ScaleOut.load(PlanFile.self, path: plan, what: "plan")
                let merged = try ScaleOut.load(StatisticsFile.self, path: statistics, what: "statistics")
                let inputCharts = try charts.map { try ScaleOut.load(InputChartsFile.self, path: $0, what: "charts") }
                outcome = try ScaleOut.assemble(
                    request, plan: decided, statistics: merged, statisticsName: statistics, charts: inputCharts,
                    chartNames: charts, directory: out
                ) { progress.update($0) }
            } else {
                outcome = try Publisher.publish(request, directory: out, dryRun: dryRun) { progress.update($0) }
            }
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        for note in outcome.notes { Diagnostics.write("deid: note: \(note)\n") }
        var riskLine: String?
        if let risk = outcome.risk {
            var line =
                "risk: smallest class \(risk.minClassSize), highest prosecutor risk \(String(format: "%.4f", risk.prosecutor.max)), \(risk.sampleUniques) sample uniques"
            if let trace = risk.traceUniqueness {
                line += ", trace uniqueness \(String(format: "%.1f%%", trace.share * 100)) (\(trace.points) points)"
            }
            riskLine = line + "\n"
        }
        if let linkage = outcome.linkage, let gate = linkage.gate {
            riskLine =
                (riskLine ?? "")
                + "linkage: worst unique-link share \(String(format: "%.4f", gate.worst)) over \(linkage.pairs.count) pairs "
                + "(limit \(gate.maxUniqueLinkShare))\n"
        }
        if let directory = outcome.directory {
            let manifest = outcome.manifest
            try StandardOutput.write(
                """
                published \(manifest.rows.out) rows of \(manifest.dataset.name) to \(directory)/
                  \(manifest.data.file)  manifest.json  report.md\(outcome.risk != nil ? "  report.json  report.html  confidential/report.html" : "")
                release id \(manifest.releaseID)\(outcome.catalog.map { ", recorded in \($0)" } ?? "")

                """)
            if let riskLine { try StandardOutput.write(riskLine) }
            if let privacy = manifest.privacy {
                let levels = privacy.transformation.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                    separator: " ")
                try StandardOutput.write(
                    """
                    k=\(privacy.models.k): levels \(levels); smallest class \(privacy.minClassSize); \
                    suppressed \(privacy.suppressedRecords) records of \(privacy.suppressedEntities) individuals

                    """)
            }
        } else {
            try StandardOutput.write(outcome.report)
            if let riskLine { try StandardOutput.write("\n" + riskLine) }
        }
    }
}
