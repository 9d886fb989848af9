import DeidEngine

/// What one input contributed to a run.
public struct InputSummary: Codable, Sendable, Equatable {
    public var name: String
    /// The file's size in bytes (nil for standard input and pipes).
    public var bytes: Int?
    /// SHA-256 of the input's bytes as read (compressed bytes for gzip), from a file, a pipe or
    /// standard input alike; nil when the run did not fingerprint it.
    public var sha256: String?
    public var records: Int
    public var compressed: Bool
}

/// Counts of a run.
public struct RunSummary: Codable, Sendable, Equatable {
    public var inputs: [InputSummary] = []
    /// Records read (header excluded).
    public var recordsIn = 0
    /// Records dropped by the policy's filters.
    public var recordsFiltered = 0
    /// Records written.
    public var recordsOut = 0
}

extension RunSummary {
    /// Adds what the inputs of a pass gave.
    mutating func add(_ counts: [InputCount]) {
        for count in counts {
            inputs.append(
                InputSummary(
                    name: count.name, bytes: count.bytes, sha256: nil, records: count.records,
                    compressed: count.compressed))
            recordsIn += count.records
        }
    }
}
