import Crypto
import DeidCSV
import Foundation

/// A pass that deals every record of its inputs to one of several outputs by a hash of one
/// field (`CSVRecord.fieldHash`, the same on every machine), so that all the records with one
/// value of that field, from any input, land in the same output, in the order they were read.
/// The records are written as parsed (minimal quoting), each output after the header.
public enum RecordRouter {
    /// What one output received: its records, and the SHA-256 of its bytes as written.
    public struct Part: Sendable, Equatable {
        public let records: Int
        public let sha256: String
    }

    /// The output a record with this field hash goes to, of `parts`.
    @inlinable public static func part(ofHash hash: UInt64, parts: Int) -> Int {
        Int(hash % UInt64(parts))
    }

    /// Deals the records of `inputs` to `outputs` by field `field` (the outputs are plain CSV,
    /// written but not committed: the caller commits or abandons them). Returns what each input
    /// gave and what each output received.
    public static func run(
        inputs: [BlockInput], field: Int, header: [String], outputs: [OutputFile], delimiter: CSVDelimiter,
        workers: Int, progress: ((InputProgress) -> Void)? = nil
    ) throws -> (counts: [InputCount], parts: [Part]) {
        precondition(!outputs.isEmpty, "at least one output")
        let headerWriter = CSVWriter(delimiter: delimiter)
        try headerWriter.write(fields: header)
        let headerBytes = headerWriter.takeBytes()
        var hashers = outputs.map { _ in SHA256() }
        var records = outputs.map { _ in 0 }
        for index in outputs.indices {
            try outputs[index].write(bytes: headerBytes)
            hashers[index].update(data: headerBytes)
        }
        let states = (0..<max(1, workers) * 2).map { _ in
            RoutingWorker(field: field, writers: outputs.map { _ in CSVWriter(delimiter: delimiter) })
        }
        let counts = try BlockLoop.run(inputs: inputs, workers: states, progress: progress) { outcome, _ in
            for (index, bytes) in outcome.pieces.enumerated() where !bytes.isEmpty {
                try outputs[index].write(bytes: bytes)
                hashers[index].update(data: bytes)
                records[index] += outcome.records[index]
            }
        }
        let parts = outputs.indices.map { index in
            Part(records: records[index], sha256: hex(hashers[index].finalize()))
        }
        return (counts, parts)
    }
}

/// One block's records, dealt to the outputs.
struct RoutedBlock: BlockOutcome {
    var pieces: [[UInt8]] = []
    var records: [Int] = []
    var recordsRead = 0
    var linesRead = 0
    var failure: (any Error)?
}

/// Deals one block's records to one memory writer per output.
struct RoutingWorker: BlockWorker {
    let field: Int
    let writers: [CSVWriter]
    var record = CSVRecord()

    init(field: Int, writers: [CSVWriter]) {
        self.field = field
        self.writers = writers
    }

    mutating func process(_ job: BlockJob) -> RoutedBlock {
        var result = RoutedBlock()
        result.records = writers.map { _ in 0 }
        let reader: CSVReader
        do { reader = try job.reader() } catch {
            result.failure = error
            return result
        }
        let parts = writers.count
        do {
            while try reader.readRecord(into: &record) {
                result.recordsRead += 1
                let part = RecordRouter.part(ofHash: record.fieldHash(at: field), parts: parts)
                try writers[part].write(record: record)
                result.records[part] += 1
            }
        } catch {
            result.failure = error
        }
        result.linesRead = reader.linesConsumed
        result.pieces = writers.map { $0.takeBytes() }
        return result
    }
}
