import DeidCSV
import DeidEngine
import Foundation

/// `deid risk` as a library call: one CSV input (a file, gzip or plain, or `-` for standard
/// input), measured in one streaming pass.
///
/// ```swift
/// let assessment = try RiskAssessment(input: "meters.csv")
/// var (spec, thresholds) = try assessment.spec(policyPath: "policy.yaml")
/// spec.discovery = nil
/// let report = try assessment.measure(spec, thresholds: thresholds)
/// print(report.table())
/// ```
public final class RiskAssessment {
    private let input: BlockInput

    /// Opens `path` and reads its header.
    public init(input path: String, options: CSVReadOptions = CSVReadOptions()) throws {
        input = try BlockInput(path: path, options: options)
    }

    /// The input's name as given.
    public var inputName: String { input.source.displayName }

    /// The input's column names.
    public var columns: [String] { input.header.names }

    /// What the policy at `policyPath` asks to measure (its quasi-identifiers, entity and
    /// sensitive column; its `risk` section's trace and limits). Only the roles are read: no key
    /// is needed to measure.
    public func spec(policyPath: String) throws -> (RiskSpec, RiskThresholds) {
        let policy = try PolicyLoader.load(path: policyPath, header: columns, checkingKeys: false)
        let spec = RiskSpec(policy: policy)
        guard !spec.quasiIdentifiers.isEmpty else {
            throw PolicyError([
                PolicyDiagnostic(
                    file: policyPath, line: nil, column: nil, path: "columns",
                    message: "the policy has no kept column with role quasi_identifier to measure")
            ])
        }
        return (spec, policy.risk?.thresholds ?? RiskThresholds())
    }

    /// Measures the input (read once: call it once) and checks the report against `thresholds`.
    public func measure(
        _ spec: RiskSpec, thresholds: RiskThresholds = RiskThresholds(),
        progress: ((InputProgress) -> Void)? = nil
    ) throws -> RiskReport {
        let data = try RiskScan.run(inputs: [input], spec: spec, progress: progress)
        return try RiskAnalysis.report(data, spec: spec, inputs: [inputName], thresholds: thresholds)
    }

    /// Writes the HTML report to `path` (never over the input): the public page, or with
    /// `confidential` the analysts' page with the smallest classes and the input's histograms.
    public func writeHTML(_ report: RiskReport, spec: RiskSpec, confidential: Bool, to path: String) throws {
        let output = try OutputFile(path: path, compress: false, protecting: [input.source.identity].compactMap { $0 })
        try output.write(text: RiskHTML(report: report, spec: spec, confidential: confidential).render())
        try output.commit()
    }
}
