import DeidTestSupport
import DeidCSV
import Testing

/// Reads `bytes` the way the multi-core pass does: cut into blocks of `blockSize` by the
/// splitter, each block parsed by its own reader, positions shifted by the blocks before.
func readInBlocks(_ bytes: [UInt8], blockSize: Int, options: CSVReadOptions = CSVReadOptions()) -> ReadOutcome {
    var outcome = ReadOutcome()
    let splitter = CSVBlockSplitter(source: InputSource(bytes: bytes, chunkSizes: [7], displayName: "fixture.csv"),
                                    blockSize: blockSize, maxRecordBytes: options.maxRecordBytes)
    var lineBase = 0, recordBase = 0
    var header: CSVHeader?
    var delimiter = CSVDelimiter.comma
    do {
        while let block = try splitter.next() {
            let reader: CSVReader
            if let header {
                reader = CSVReader(block: block.bytes, header: header, delimiter: delimiter, options: options, displayName: "fixture.csv",
                                   endsInsideRecord: block.endsInsideRecord)
            } else {
                reader = try CSVReader(source: InputSource(bytes: block.bytes, displayName: "fixture.csv"), options: options,
                                       endsInsideRecord: block.endsInsideRecord)
                header = reader.header
                delimiter = reader.delimiter
                outcome.header = reader.header.names
            }
            var record = CSVRecord()
            var records = 0
            do {
                while try reader.readRecord(into: &record) {
                    records += 1
                    outcome.rows.append(.init(fields: record.strings, line: record.line + lineBase, number: record.number + recordBase))
                }
            } catch var error as CSVError {
                error.position.line = error.position.line.map { $0 + lineBase }
                error.position.record = error.position.record.map { $0 + recordBase }
                throw error
            }
            lineBase += reader.linesConsumed
            recordBase += records
        }
        if header == nil { throw CSVError(.emptyInput, at: InputPosition(source: "fixture.csv")) }
    } catch let error as CSVError {
        outcome.error = error
    } catch {
        Issue.record("unexpected error type: \(error)")
    }
    return outcome
}

/// Cutting an input into blocks changes nothing: every reader fixture, cut at every size from
/// one byte up, gives the records, lines, record numbers and errors of one reader on the whole.
@Suite struct CSVBlockTests {
    @Test(arguments: readerFixtures)
    func blocksReadLikeTheWholeInput(_ fixture: ReaderFixture) {
        for blockSize in [1, 2, 3, 5, 8, 13, 21, 64, 1 << 20] {
            let outcome = readInBlocks(fixture.text, blockSize: blockSize, options: fixture.options)
            #expect(outcome == fixture.expected, "block size \(blockSize)")
        }
    }

    @Test func randomInputsReadAlikeInRandomBlockSizes() {
        // Valid and malformed rows (quoted fields with delimiters and line breaks, doubled and
        // stray quotes, CR LF): records, lines and the error must not depend on the blocks.
        var random = TestRandom(seed: 2049)
        var accepted = 0
        for trial in 0..<1500 {
            let bytes = randomRawCSV(&random, maxRows: 6)
            let options = CSVReadOptions(delimiter: .comma)
            let whole = readAll(bytes, options: options)
            if whole.error == nil { accepted += 1 }
            for blockSize in [1, 3, Int.random(in: 2...40, using: &random)] {
                #expect(readInBlocks(bytes, blockSize: blockSize, options: options) == whole, "trial \(trial): \(bytes), blocks of \(blockSize)")
            }
        }
        #expect(accepted > 300, "too few valid inputs to mean anything: \(accepted)")
    }

    @Test func blocksEndAtRecordEndsOutsideQuotes() {
        // The line break inside the quoted field is not a record end; the last one is.
        let text = Array("a,b\n1,\"x\ny\"\n2,z\n".utf8)
        let splitter = CSVBlockSplitter(source: InputSource(bytes: text, chunkSizes: [1]), blockSize: 6)
        var blocks: [String] = []
        while let block = try? splitter.next() { blocks.append(String(decoding: block.bytes, as: UTF8.self)) }
        #expect(blocks == ["a,b\n", "1,\"x\ny\"\n", "2,z\n"])
        #expect(blocks.joined() == String(decoding: text, as: UTF8.self))
    }
}
