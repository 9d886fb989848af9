import DeidCSV
import DeidEngine
import Foundation

/// What a privacy-checked run did beyond the records: the statistics, the levels and the
/// search's result.
public struct PrivacyOutcome: Sendable {
    public var statistics: PrivacyStatistics
    public var levels: [QuasiIdentifierLevels]
    public var result: PrivacyResult
    public var tClosenessDistance: TClosenessSpec.Distance?
    /// Records removed because their class or their entity was suppressed (counted while writing).
    public var suppressedRecords: Int
    /// What pass 2 applied: a value any shard of the same data can apply on its own.
    public var plan: PrivacyPlan
}

/// The search's decision as a value that does not depend on one run's codes: the levels, the
/// suppressed classes by their published values, the suppressed entities that span classes by
/// their values, and the keys' ids and the seed the release was made with. Saved as JSON it can
/// be applied to any shard of the data (`TransformRun.runPrivate(... applying:)`); it names
/// entities, so it is as confidential as the input.
public struct PrivacyPlan: Codable, Sendable, Equatable {
    public var columns: [String]
    public var levels: [Int]
    public var suppressedClasses: [[Data]]
    public var suppressedEntities: [Data]
    public var keyIDs: [String: String]
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case columns, levels, suppressedClasses = "suppressed_classes", suppressedEntities = "suppressed_entities",
             keyIDs = "key_ids", seed
    }

    /// The plan of a search's result.
    public init(result: PrivacyResult, columns: [String], keyIDs: [String: String], seed: UInt64?) {
        self.columns = columns
        levels = result.levels
        suppressedClasses = result.suppressedClasses.map { $0.map { Data($0) } }
        suppressedEntities = result.suppressedEntityValues.map { Data($0) }
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
