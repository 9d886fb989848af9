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
    public var problem: ReportedProblem { ReportedProblem(message, at: .policy(file: file, line: line, column: column, path: path)) }
}

/// Every problem found in a policy, reported together.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    /// The problems, in the order of the policy file.
    public var diagnostics: [PolicyDiagnostic]
    /// How many problems the command line prints (then how many more there are).
    public static let printedLimit = 50

    public init(_ diagnostics: [PolicyDiagnostic]) {
        self.diagnostics = diagnostics.sorted { ($0.line ?? Int.max, $0.column ?? 0) < ($1.line ?? Int.max, $1.column ?? 0) }
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// "Did you mean" suggestions for misspelt keys and column names.
enum Suggestion {
    /// The closest candidate within a small edit distance of `word`, if any.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            let limit = max(1, min(3, candidate.count / 3))
            if distance <= limit, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// `; did you mean 'x'?` or nothing.
    static func phrase(for word: String, among candidates: [String]) -> String {
        closest(to: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Levenshtein distance over Unicode scalars.
    /// - Complexity: O(m n) for words of lengths m and n.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}

extension PolicyError: ReportedError {
    public var problems: [ReportedProblem] {
        diagnostics.map(\.problem)
    }
}
