/// An error that names where in an input it happened. A pass that reads an input in blocks
/// counts lines and records from each block's start; `shifted` places such an error in the
/// whole input.
public protocol PositionedError: Error {
    var position: InputPosition { get set }
}

extension PositionedError {
    /// The error with its line and record moved on by the lines and records before its block.
    public func shifted(lines: Int, records: Int) -> Self {
        var moved = self
        moved.position.line = moved.position.line.map { $0 + lines }
        moved.position.record = moved.position.record.map { $0 + records }
        return moved
    }
}

extension CSVError: PositionedError {}
