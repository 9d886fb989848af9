import DeidCSV
import Foundation

/// One shard's input charts, as `deid apply --plan --charts` writes them (Docs/SCALE-OUT.md):
/// the sampled values of the columns the policy generalizes or noises, counted as the shard was
/// read, for the release report's "before" charts. The assembly merges the shards' files in
/// the parts' order. It holds input values: keep it as confidential as the input.
package typealias InputChartsFile = ScaleOutDocument<InputCharts>

package struct InputCharts: ScaleOutBody {
    package static let formatName = "deid-input-charts"
    package static let currentVersion = 1

    /// The plan's release id: the charts of another run are refused.
    package var releaseID: String
    package var distributions: [ValueDistribution]

    enum CodingKeys: String, CodingKey {
        case releaseID = "release_id"
        case distributions
    }
}

extension ScaleOut {
    /// The shards' charts (named by `names` in errors) merged in the order given, as one
    /// machine merges its blocks' counts.
    static func inputDistributions(
        _ files: [InputChartsFile], names: [String], plan decided: PlanFile, policy: Policy
    ) throws -> [ValueDistribution] {
        var merged: [ValueDistribution]?
        let cap = max(1, RiskSpec(policy: policy).publicMinimumClassSize)
        for (file, name) in zip(files, names) {
            try checkFormat(file, name: name)
            guard file.policySHA256 == decided.policySHA256, file.header == decided.header,
                file.releaseID == decided.releaseID,
                merged.map({ $0.map(\.column) == file.distributions.map(\.column) }) ?? true
            else {
                throw usage(
                    "charts of another plan or policy: give the charts deid apply wrote with this plan", file: name)
            }
            if merged == nil {
                merged = file.distributions
            } else {
                for index in file.distributions.indices { merged![index].merge(file.distributions[index], cap: cap) }
            }
        }
        return merged ?? []
    }
}
