import DeidCSV
import DeidEngine
import Foundation

/// What a privacy-checked run did beyond the records: the statistics, the levels and the
/// search's result.
package struct PrivacyOutcome: Sendable {
    package var statistics: PrivacyStatistics
    package var levels: [QuasiIdentifierLevels]
    package var result: PrivacyResult
    package var tClosenessDistance: TClosenessSpec.Distance?
    /// Records removed because their class or their entity was suppressed (counted while writing).
    package var suppressedRecords: Int
    /// What pass 2 applied: a value any shard of the same data can apply on its own.
    package var plan: PrivacyPlan
}

/// The search's decision as a value that does not depend on one run's codes: the levels, the
/// suppressed classes by their published values, the suppressed entities that span classes by
/// their values, and the keys' ids and the seed the release was made with. Saved as JSON it can
/// be applied to any shard of the data (`TransformRun.runPrivate(... applying:)`); it names
/// entities, so it is as confidential as the input.
package struct PrivacyPlan: Codable, Sendable, Equatable {
    package var columns: [String]
    package var levels: [Int]
    package var suppressedClasses: [[Data]]
    package var suppressedEntities: [Data]
    package var keyIDs: [String: String]
    package var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case columns, levels
        case suppressedClasses = "suppressed_classes"
        case suppressedEntities = "suppressed_entities"
        case
            keyIDs = "key_ids"
        case seed
    }

    /// The plan of a search's result.
    package init(result: PrivacyResult, columns: [String], keyIDs: [String: String], seed: UInt64?) {
        self.columns = columns
        levels = result.levels
        // Sorted by their values: the plan does not depend on the order the data was read in.
        suppressedClasses = result.suppressedClasses.map { $0.map { Data($0) } }.sorted {
            $0.lexicographicallyPrecedes($1) { $0.lexicographicallyPrecedes($1) }
        }
        suppressedEntities = result.suppressedEntityValues.map { Data($0) }.sorted {
            $0.lexicographicallyPrecedes($1)
        }
        self.keyIDs = keyIDs
        self.seed = seed
    }
}

/// A privacy run's failure: no transformation satisfies the models (exit 1).
public struct PrivacyGateError: ReportedError, Sendable, CustomStringConvertible {
    public var refusal: PrivacyRefusal
    public var description: String { refusal.reasons.map { "refused: \($0)" }.joined(separator: "\n") }
    public var exitCode: Int32 { 1 }
    public var isRefusal: Bool { true }
    public var problems: [ReportedProblem] { refusal.reasons.map { ReportedProblem($0) } }
}
