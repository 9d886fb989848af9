/// Where a reported problem lies.
public enum ProblemLocation: Sendable, Equatable {
    /// A place in a data input: its name, line, record and column (never a value).
    case input(InputPosition)
    /// A place in a policy file: its name, line and column, and the path of keys to the value.
    case policy(file: String, line: Int?, column: Int?, path: String)
    /// A file as a whole (a catalog, a key file).
    case file(String)
}

/// One problem of an error, as a person reads it: where, and what is wrong in one sentence that
/// never holds a data value.
public struct ReportedProblem: Sendable, Equatable, CustomStringConvertible {
    public var location: ProblemLocation?
    public var message: String

    public init(_ message: String, at location: ProblemLocation? = nil) {
        self.location = location
        self.message = message
    }

    /// The one way a problem is written for people, compiler style:
    /// `meters.csv:1205: error: ...`, `policy.yaml:12:5: error: columns.kwh.noise: ...`,
    /// `catalog.sqlite: ...`, or the message alone.
    public var description: String {
        switch location {
        case .input(let position):
            return "\(position): error: \(message)"
        case .policy(let file, let line, let column, let path):
            var place = file
            if let line { place += ":\(line)" }
            if let column { place += ":\(column)" }
            return path.isEmpty ? "\(place): error: \(message)" : "\(place): error: \(path): \(message)"
        case .file(let path):
            return "\(path): \(message)"
        case nil:
            return message
        }
    }
}

/// An error the command line reports: every error `deid`'s libraries throw to it conforms. The
/// libraries describe the problems; the command line formats them and exits with `exitCode`.
public protocol ReportedError: Error {
    /// 1 when a privacy or linkage gate refused the release (nothing was written), 2 for bad
    /// usage or bad input.
    var exitCode: Int32 { get }
    /// The problems, in the order to report them.
    var problems: [ReportedProblem] { get }
    /// Whether the problems are reasons for a refusal rather than errors.
    var isRefusal: Bool { get }
}

extension ReportedError {
    public var exitCode: Int32 { 2 }
    public var isRefusal: Bool { false }
}

extension CSVError: ReportedError {
    public var problems: [ReportedProblem] { [ReportedProblem(message, at: .input(position))] }
}
