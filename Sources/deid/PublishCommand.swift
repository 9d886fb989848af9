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
            the gates too.

            Keys come from the environment or a file named in the policy (env:NAME, file:PATH);
            the manifest records a key id, never the key.

            Examples:
              DEID_KEY=... deid publish --policy policy.yaml --out release-2026-11 meters.csv.gz
              deid publish -p policy.yaml --dry-run january.csv february.csv
            """)

    @OptionGroup var policyOptions: PolicyOptions

    @Argument(help: "The CSV inputs (plain or gzip), or - for standard input.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("The release directory to create (default: NAME-RELEASEID here).", valueName: "dir"))
    var out: String?

    @Flag(help: "Write the data as .csv.gz.")
    var compress = false

    @Flag(help: "Check the policy and every record and print the report; write nothing.")
    var dryRun = false

    @OptionGroup var dialect: DialectOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one input file") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be given once") }
        if dryRun && out != nil { throw ValidationError("--dry-run writes nothing; leave out --out") }
    }

    func run() throws {
        let progress = ProgressBar(label: "publishing")
        let request = TransformRequest(policyPath: policyOptions.policy, inputs: inputs, readOptions: dialect.readOptions,
                                       seed: policyOptions.seed, compress: compress)
        let outcome: PublishOutcome
        do {
            outcome = try Publisher.publish(request, directory: out, dryRun: dryRun) { progress.update($0) }
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        var riskLine: String?
        if let risk = outcome.risk {
            var line = "risk: smallest class \(risk.minClassSize), highest prosecutor risk \(String(format: "%.4f", risk.prosecutor.max)), \(risk.sampleUniques) sample uniques"
            if let trace = risk.traceUniqueness {
                line += ", trace uniqueness \(String(format: "%.1f%%", trace.share * 100)) (\(trace.points) points)"
            }
            riskLine = line + "\n"
        }
        if let directory = outcome.directory {
            let manifest = outcome.manifest
            try StandardOutput.write("""
                published \(manifest.rows.out) rows of \(manifest.dataset.name) to \(directory)/
                  \(manifest.data.file)  manifest.json  report.md\(outcome.risk != nil ? "  report.json  report.html  confidential/report.html" : "")
                release id \(manifest.releaseID)

                """)
            if let riskLine { try StandardOutput.write(riskLine) }
            if let privacy = manifest.privacy {
                let levels = privacy.transformation.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                try StandardOutput.write("""
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
