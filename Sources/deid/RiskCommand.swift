import ArgumentParser
import DeidCSV
import DeidKit
import Foundation

struct RiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk",
        abstract:
            "Measure how identifiable a file is: classes, prosecutor/marketer/journalist risk, uniqueness, traces.",
        discussion: """
            One streaming pass on every core, in bounded memory. The quasi-identifiers come from
            --quasi-identifiers or from a policy's roles (--policy). With --entity, individuals are
            the entity's distinct values (a household with 17,520 readings is one individual) and
            an individual's risk is that of its smallest class. Definitions and the JSON schema:
            Docs/RISK.md.

            Quasi-identifier discovery tries every combination of up to 3 candidate columns (all
            non-identifier columns unless --candidates) and lists those that single out the most
            individuals. Trace uniqueness (--trace-time and --trace-value, with --entity) draws
            --points points from each entity's own series and counts the entities no other
            entity's series matches on all of them.

            Exit codes: 0 within every threshold given; 1 a threshold exceeded; 2 bad input.

            Examples:
              deid risk adult.csv --quasi-identifiers age,sex,race,native-country --sensitive salary-class
              deid risk meters.csv.gz --policy policy.yaml --json > risk.json
              deid risk lcl.csv.gz --quasi-identifiers LCLid --entity LCLid --trace-time tstp \\
                --trace-value energy_kwh_hh --time-resolution day --value-resolution 1 --points 4
              deid risk release.csv --quasi-identifiers postcode,age --min-class-size 5 --max-prosecutor-risk 0.2
              deid risk survey.csv -q zip,age,sex --sampling-fraction 0.01 --html report.html
            """)

    @OptionGroup var input: InputOptions

    @Option(
        name: [.customShort("q"), .long],
        help: ArgumentHelp("The quasi-identifier columns, comma-separated.", valueName: "a,b,c"))
    var quasiIdentifiers: String?

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Take the roles (quasi-identifiers, entity, sensitive, trace, gates) from this policy.", valueName: "file"))
    var policy: String?

    @Option(
        help: ArgumentHelp("The column naming the person or household each record belongs to.", valueName: "column"))
    var entity: String?

    @Option(
        help: ArgumentHelp(
            "The sensitive column: report its l-diversity and t-closeness over the classes.", valueName: "column"))
    var sensitive: String?

    @Option(
        help: ArgumentHelp("t-closeness distance: equal or ordered (default: ordered for numbers).", valueName: "kind"))
    var distance: String?

    @Option(
        help: ArgumentHelp(
            "Prosecutor risk above this counts an individual as at risk (default 0.2, or the policy's risk.threshold).",
            valueName: "risk"))
    var threshold: Double?

    @Option(
        help: ArgumentHelp(
            "A population table (CSV: the quasi-identifiers and a count column) for journalist risk.", valueName: "file"
        ))
    var population: String?

    @Option(help: ArgumentHelp("The population table's count column.", valueName: "column"))
    var populationCount = "count"

    @Option(
        help: ArgumentHelp(
            "Sample size / population size: estimate population uniques (Pitman, Zayatz, SNB, Dankar's rule).",
            valueName: "share"))
    var samplingFraction: Double?

    @Option(
        help: ArgumentHelp(
            "Columns quasi-identifier discovery combines (default: all but identifiers and the entity).",
            valueName: "a,b,c"))
    var candidates: String?

    @Flag(help: "Skip quasi-identifier discovery.")
    var noDiscovery = false

    @Option(help: ArgumentHelp("The timestamp column of trace uniqueness.", valueName: "column"))
    var traceTime: String?

    @Option(help: ArgumentHelp("The value column of trace uniqueness (summed per time bucket).", valueName: "column"))
    var traceValue: String?

    @Option(help: ArgumentHelp("Points an attacker knows of a trace.", valueName: "n"))
    var points = 4

    @Option(
        help: ArgumentHelp(
            "Time bucket of a point: minute, 15min, 30min, hour, day, week, month, year (default: each timestamp).",
            valueName: "unit"))
    var timeResolution: String?

    @Option(
        help: ArgumentHelp("Round point values to multiples of this (default: compare as written).", valueName: "step"))
    var valueResolution: Double?

    @Option(help: ArgumentHelp("Repeated draws of points per entity (the spread is reported).", valueName: "n"))
    var repetitions = 10

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the draws.", valueName: "n"), transform: Seed.parse)
    var seed: UInt64 = 1

    @Flag(help: "Print the report as JSON (Docs/RISK.md).")
    var json = false

    @Option(
        help: ArgumentHelp("Write the public HTML report (no values of classes smaller than --k).", valueName: "file"))
    var html: String?

    @Option(
        help: ArgumentHelp("Write the confidential HTML report (with the smallest classes' values).", valueName: "file")
    )
    var htmlConfidential: String?

    @Option(
        help: ArgumentHelp(
            "Classes smaller than this never show values in the public report (default: the policy's k, else 5).",
            valueName: "k"))
    var k: Int?

    @Option(help: ArgumentHelp("Exit 1 when the highest prosecutor risk is above this.", valueName: "risk"))
    var maxProsecutorRisk: Double?

    @Option(help: ArgumentHelp("Exit 1 when a class is smaller than this.", valueName: "n"))
    var minClassSize: Int?

    @Option(help: ArgumentHelp("Exit 1 when trace uniqueness is above this share.", valueName: "share"))
    var maxTraceUniqueness: Double?

    func validate() throws {
        try requirePath(html, "--html")
        try requirePath(htmlConfidential, "--html-confidential")
        try requirePath(population, "--population")
        if (quasiIdentifiers == nil) == (policy == nil) {
            throw ValidationError("give --quasi-identifiers or --policy (one of them)")
        }
        if let quasiIdentifiers, columnList(quasiIdentifiers).isEmpty {
            throw ValidationError("--quasi-identifiers needs at least one column")
        }
        if (traceTime == nil) != (traceValue == nil) {
            throw ValidationError("trace uniqueness needs both --trace-time and --trace-value")
        }
        if traceTime != nil && entity == nil && policy == nil {
            throw ValidationError("trace uniqueness needs --entity (whose trace the points are)")
        }
        if !(1...64).contains(points) { throw ValidationError("--points must be 1 to 64") }
        if !(1...1000).contains(repetitions) { throw ValidationError("--repetitions must be 1 to 1000") }
        if let timeResolution, TimeUnit(rawValue: timeResolution) == nil {
            throw ValidationError(
                "--time-resolution must be one of \(TimeUnit.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let valueResolution, !(valueResolution > 0) { throw ValidationError("--value-resolution must be above 0") }
        if let distance, TClosenessSpec.Distance(rawValue: distance) == nil {
            throw ValidationError("--distance must be equal or ordered")
        }
        if let samplingFraction, !(samplingFraction > 0 && samplingFraction <= 1) {
            throw ValidationError("--sampling-fraction must be in (0, 1]")
        }
        for (name, value) in [
            ("--threshold", threshold), ("--max-prosecutor-risk", maxProsecutorRisk),
            ("--max-trace-uniqueness", maxTraceUniqueness),
        ] {
            if let value, !(0...1).contains(value) { throw ValidationError("\(name) must be between 0 and 1") }
        }
        if let minClassSize, minClassSize < 1 { throw ValidationError("--min-class-size must be at least 1") }
        if let k, k < 1 { throw ValidationError("--k must be at least 1") }
        if maxTraceUniqueness != nil && traceTime == nil && policy == nil {
            throw ValidationError("--max-trace-uniqueness needs --trace-time and --trace-value")
        }
        if html == "-" || htmlConfidential == "-" { throw ValidationError("the HTML reports need file names") }
    }

    func run() throws {
        let assessment = try RiskAssessment(input: input.file, options: input.dialect.readOptions)
        var spec: RiskSpec
        var thresholds = RiskThresholds(
            maxProsecutorRisk: maxProsecutorRisk, minClassSize: minClassSize, maxTraceUniqueness: maxTraceUniqueness)
        if let policy {
            let (fromPolicy, gates) = try assessment.spec(policyPath: policy)
            spec = fromPolicy
            // The command line's limits win over the policy's.
            thresholds.maxProsecutorRisk = thresholds.maxProsecutorRisk ?? gates.maxProsecutorRisk
            thresholds.minClassSize = thresholds.minClassSize ?? gates.minClassSize
            thresholds.maxTraceUniqueness = thresholds.maxTraceUniqueness ?? gates.maxTraceUniqueness
        } else {
            spec = RiskSpec(quasiIdentifiers: columnList(quasiIdentifiers ?? ""))
        }
        if let entity { spec.entity = entity }
        if let sensitive { spec.sensitive = sensitive }
        if let distance { spec.distance = TClosenessSpec.Distance(rawValue: distance) }
        if let threshold { spec.threshold = threshold }
        if let k { spec.publicMinimumClassSize = k }
        spec.samplingFraction = samplingFraction
        spec.discovery = noDiscovery ? nil : DiscoverySpec(candidates: candidates.map(columnList))
        if let traceTime, let traceValue {
            var trace = TraceSpec(time: traceTime, value: traceValue)
            trace.points = points
            trace.maxPoints = max(trace.maxPoints, points)
            trace.timeUnit = timeResolution.flatMap(TimeUnit.init(rawValue:))
            trace.valueStep = valueResolution
            trace.repetitions = repetitions
            trace.seed = seed
            spec.trace = trace
        }
        if spec.trace != nil && spec.entity == nil {
            throw ValidationError("trace uniqueness needs --entity (whose trace the points are)")
        }
        if let population {
            spec.population = try PopulationTable(
                path: population, quasiIdentifiers: spec.quasiIdentifiers, countColumn: populationCount,
                options: input.dialect.readOptions)
        }
        let progress = ProgressBar(label: "measuring \(assessment.inputName)")
        let report: RiskReport
        do {
            report = try assessment.measure(spec, thresholds: thresholds) { progress.update($0) }
            progress.finish()
        } catch {
            progress.finish()
            throw error
        }
        if let html { try assessment.writeHTML(report, spec: spec, confidential: false, to: html) }
        if let htmlConfidential {
            try assessment.writeHTML(report, spec: spec, confidential: true, to: htmlConfidential)
        }
        try StandardOutput.write(json ? try report.json() + "\n" : report.table())
        if !report.failedGates.isEmpty {
            if json { Diagnostics.write(report.failedGates.map { "deid: risk gate \($0.name) exceeded\n" }.joined()) }
            throw ExitCode(1)
        }
    }
}
