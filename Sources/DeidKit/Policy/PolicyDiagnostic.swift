import DeidCSV

/// One problem found in a policy: where it is (file, line, column, and the path of keys that
/// leads to it) and what is wrong. Never carries a data value.
public struct PolicyDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    /// The policy file's name as given on the command line.
    public var file: String
    /// 1-based line and column in the policy file; nil when the problem has no place in it.
    public var line: Int?
    public var column: Int?
    /// The key path, e.g. `columns.kwh.noise.laplace`; empty for the document itself.
    public var path: String
    /// What is wrong, in one sentence.
    public var message: String

    public init(file: String, line: Int?, column: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `policy.yaml:12:5: error: columns.kwh.noise: ...`
    public var description: String { problem.description }

    /// The diagnostic as a reported problem.
    public var problem: ReportedProblem {
        ReportedProblem(message, at: .policy(file: file, line: line, column: column, path: path))
    }
}

/// Every problem found in a policy, reported together.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    /// The problems, in the order of the policy file.
    public var diagnostics: [PolicyDiagnostic]
    /// How many problems the command line prints (then how many more there are).
    public static let printedLimit = 50

    public init(_ diagnostics: [PolicyDiagnostic]) {
        self.diagnostics = diagnostics.sorted {
            ($0.line ?? Int.max, $0.column ?? 0) < ($1.line ?? Int.max, $1.column ?? 0)
        }
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension PolicyError: ReportedError {
    public var problems: [ReportedProblem] {
        diagnostics.map(\.problem)
    }
}
