import DeidCSV
import DeidTestSupport
import Testing

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
                #expect(
                    readInBlocks(bytes, blockSize: blockSize, options: options) == whole,
                    "trial \(trial): \(bytes), blocks of \(blockSize)")
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
