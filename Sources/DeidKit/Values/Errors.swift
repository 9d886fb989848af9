import DeidCSV

/// A transform error on one record: where (file, line, record, column) and why, never the value.
public struct TransformError: PositionedError, Sendable, Equatable, CustomStringConvertible {
    public var position: InputPosition
    public var problem: String

    public init(position: InputPosition, problem: String) {
        self.position = position
        self.problem = problem
    }

    public var description: String { problems[0].description }
}

extension TransformError: ReportedError {
    /// The record and column, when known, lead the message: the line is the location's.
    public var problems: [ReportedProblem] {
        let place = [position.record.map { "record \($0)" }, position.column.map { "column '\($0)'" }].compactMap { $0 }
            .joined(separator: ", ")
        return [ReportedProblem((place.isEmpty ? "" : place + ": ") + problem, at: .input(position))]
    }
}

/// Why one value could not be transformed. The message never contains the value.
package struct ValueProblem: Error, Sendable, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
}
