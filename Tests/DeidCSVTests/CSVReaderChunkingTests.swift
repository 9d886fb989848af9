import DeidTestSupport
import Testing

@testable import DeidCSV

/// One input and what reading it must give. Lines are physical lines (quoted line breaks
/// count); record numbers exclude the header.
struct ReaderFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var text: [UInt8]
    var header: [String]
    /// (line, fields) of each record.
    var rows: [(Int, [String])]
    var error: CSVError?
    var options = CSVReadOptions()

    var testDescription: String { name }

    init(
        _ name: String, _ text: String, header: [String], rows: [(Int, [String])], error: CSVError? = nil,
        options: CSVReadOptions = CSVReadOptions()
    ) {
        self.init(name, Array(text.utf8), header: header, rows: rows, error: error, options: options)
    }

    init(
        _ name: String, _ bytes: [UInt8], header: [String], rows: [(Int, [String])], error: CSVError? = nil,
        options: CSVReadOptions = CSVReadOptions()
    ) {
        self.name = name
        self.text = bytes
        self.header = header
        self.rows = rows
        self.error = error
        self.options = options
    }

    var expected: ReadOutcome {
        ReadOutcome(
            header: header,
            rows: rows.enumerated().map { .init(fields: $1.1, line: $1.0, number: $0 + 1) },
            error: error)
    }
}

private func at(_ line: Int?, record: Int? = nil, column: String? = nil) -> InputPosition {
    InputPosition(source: "fixture.csv", line: line, record: record, column: column)
}

let readerFixtures: [ReaderFixture] = [
    ReaderFixture("plain LF", "a,b\n1,2\n3,4\n", header: ["a", "b"], rows: [(2, ["1", "2"]), (3, ["3", "4"])]),
    ReaderFixture("CRLF", "a,b\r\n1,2\r\n3,4\r\n", header: ["a", "b"], rows: [(2, ["1", "2"]), (3, ["3", "4"])]),
    ReaderFixture("CR only", "a,b\r1,2\r3,4", header: ["a", "b"], rows: [(2, ["1", "2"]), (3, ["3", "4"])]),
    ReaderFixture("no final newline", "a,b\n1,2", header: ["a", "b"], rows: [(2, ["1", "2"])]),
    ReaderFixture(
        "byte-order mark", [0xEF, 0xBB, 0xBF] + Array("id,kwh\n7,0.5\n".utf8), header: ["id", "kwh"],
        rows: [(2, ["7", "0.5"])]),
    // Records: line 2 holds a quoted comma and a doubled quote; the record on line 3 spans
    // lines 3-5 (an LF and a CR LF inside quotes); the next starts on line 6.
    ReaderFixture(
        "quoting", "name,note\n\"Smith, J\",\"say \"\"hi\"\"\"\n\"multi\nline\r\nfield\",x\nlast,\"\"\n",
        header: ["name", "note"],
        rows: [(2, ["Smith, J", "say \"hi\""]), (3, ["multi\nline\r\nfield", "x"]), (6, ["last", ""])]),
    ReaderFixture(
        "blank lines are skipped but counted", "a,b\n\n1,2\r\n\r\n\n3,4\n\n",
        header: ["a", "b"], rows: [(3, ["1", "2"]), (6, ["3", "4"])]),
    ReaderFixture("spaces are data", "a,b\n 1 ,\t2\t\n", header: ["a", "b"], rows: [(2, [" 1 ", "\t2\t"])]),
    // Spaces and tabs beside every kind of separator, inside fields, alone, and at the end of
    // the input: every one is kept, in every chunking (libcsv would trim some of them).
    ReaderFixture(
        "spaces beside separators", "a,b,c\n  x  ,\t\ty\t\t, z\n\"q r\", w ,\t\n , \t ,\r\n1 2,3\t4, \"\" \n \t",
        header: ["a", "b", "c"],
        rows: [(2, ["  x  ", "\t\ty\t\t", " z"]), (3, ["q r", " w ", "\t"]), (4, [" ", " \t ", ""])],
        error: CSVError(.malformedQuote, at: at(5, record: 4, column: "c"))),
    // Spaces beside delimiters and line breaks inside quotes (libcsv never trims there), then
    // spaces beside delimiters outside quotes after quoted fields (kept only with the space
    // function): in every chunking, some chunks start inside the quotes.
    ReaderFixture(
        "a space after a closing quote",
        "a,b,c\n\"flat, converted\",\"x ,y\", z\n\"p\n q\",\"r ,\r\ns\" ,\t\n"
            + "\"\"\"a, b\"\"\", c ,d\n",
        header: ["a", "b", "c"],
        rows: [(2, ["flat, converted", "x ,y", " z"])],
        error: CSVError(.malformedQuote, at: at(4, record: 2, column: "b"))),
    ReaderFixture(
        "spaces beside quoted delimiters, well formed",
        "a,b,c\n\"flat, converted\",\"x ,y\", z\n\"p\n q\",\"r ,\r\ns\",\t\n"
            + "\"\"\"a, b\"\"\", c ,d\n\"e,\" , f,\"g \"\n",
        header: ["a", "b", "c"],
        rows: [
            (2, ["flat, converted", "x ,y", " z"]), (3, ["p\n q", "r ,\r\ns", "\t"]), (6, ["\"a, b\"", " c ", "d"]),
        ],
        error: CSVError(.malformedQuote, at: at(7, record: 4, column: "a"))),
    ReaderFixture(
        "spaces with a tab delimiter", "a\tb\n x \t y \n  \t\"z\"\n", header: ["a", "b"],
        rows: [(2, [" x ", " y "]), (3, ["  ", "z"])]),
    ReaderFixture("spaces then the last field", "a,b\n1,  ", header: ["a", "b"], rows: [(2, ["1", "  "])]),
    ReaderFixture(
        "empty fields", "a,b,c\n,,\n1,,3\n", header: ["a", "b", "c"], rows: [(2, ["", "", ""]), (3, ["1", "", "3"])]),
    ReaderFixture("one column, empty value quoted", "a\n\"\"\nx\n", header: ["a"], rows: [(2, [""]), (3, ["x"])]),
    ReaderFixture("semicolon detected", "a;b;c\n1;2,5;3\n", header: ["a", "b", "c"], rows: [(2, ["1", "2,5", "3"])]),
    ReaderFixture("tab detected", "a\tb\n1\t2\n", header: ["a", "b"], rows: [(2, ["1", "2"])]),
    ReaderFixture("pipe detected", "a|b\n1|2\n", header: ["a", "b"], rows: [(2, ["1", "2"])]),
    ReaderFixture(
        "quoted delimiter in header does not count", "\"a;b\",c\n1,2\n", header: ["a;b", "c"], rows: [(2, ["1", "2"])]),
    ReaderFixture("header only", "a,b\n", header: ["a", "b"], rows: []),
    ReaderFixture("UTF-8 text", "名前,city\nJosé,Zürich\n", header: ["名前", "city"], rows: [(2, ["José", "Zürich"])]),
    // Errors: every record before the bad one is delivered, then the error with its position.
    ReaderFixture(
        "too few fields", "a,b,c\n1,2,3\nSECRET,9\n4,5,6\n", header: ["a", "b", "c"], rows: [(2, ["1", "2", "3"])],
        error: CSVError(.fieldCountMismatch(found: 2, expected: 3), at: at(3, record: 2))),
    ReaderFixture(
        "too many fields after a quoted newline", "a,b\n\"x\ny\",1\n1,2,SECRET\n", header: ["a", "b"],
        rows: [(2, ["x\ny", "1"])],
        error: CSVError(.fieldCountMismatch(found: 3, expected: 2), at: at(4, record: 2))),
    ReaderFixture(
        "quote inside an unquoted field", "a,b\n1,2\n3,SE\"CRET\n", header: ["a", "b"], rows: [(2, ["1", "2"])],
        error: CSVError(.malformedQuote, at: at(3, record: 2, column: "b"))),
    ReaderFixture(
        "text after a closing quote", "a,b\n\"SECRET\"x,1\n", header: ["a", "b"], rows: [],
        error: CSVError(.malformedQuote, at: at(2, record: 1, column: "a"))),
    ReaderFixture(
        "unterminated quote at end of file", "a,b\n1,2\n3,\"SECRET\nmore\n", header: ["a", "b"],
        rows: [(2, ["1", "2"])],
        error: CSVError(.unterminatedQuote, at: at(3, record: 2, column: "b"))),
    ReaderFixture(
        "field over the limit", "a,b\n1,2\n3,SECRETSECRETSECRET\n", header: ["a", "b"], rows: [(2, ["1", "2"])],
        error: CSVError(.fieldTooLarge(limit: 16), at: at(3, record: 2, column: "b")),
        options: CSVReadOptions(maxFieldBytes: 16, maxRecordBytes: 1 << 20)),
    ReaderFixture(
        "record over the limit", "a,b,c\n1,2,3\nSECRET,SECRET,SECRET\n", header: ["a", "b", "c"],
        rows: [(2, ["1", "2", "3"])],
        error: CSVError(.recordTooLarge(limit: 14), at: at(3, record: 2, column: "c")),
        options: CSVReadOptions(maxFieldBytes: 1 << 20, maxRecordBytes: 14)),
    // Field lengths around the reader's copy sizes (short fields are copied 32 bytes at a time).
    ReaderFixture(
        "fields of every copy size",
        "a,b,c,d,e,f,g\n,x,xy,xyz,abcd,abcdefg,abcdefgh\n"
            + "\(String(repeating: "p", count: 15)),\(String(repeating: "q", count: 16)),\(String(repeating: "r", count: 17)),"
            + "\(String(repeating: "s", count: 31)),\(String(repeating: "t", count: 32)),\(String(repeating: "u", count: 33)),"
            + "\"\(String(repeating: "v", count: 64))\"\n",
        header: ["a", "b", "c", "d", "e", "f", "g"],
        rows: [
            (2, ["", "x", "xy", "xyz", "abcd", "abcdefg", "abcdefgh"]),
            (
                3,
                [
                    String(repeating: "p", count: 15), String(repeating: "q", count: 16),
                    String(repeating: "r", count: 17),
                    String(repeating: "s", count: 31), String(repeating: "t", count: 32),
                    String(repeating: "u", count: 33),
                    String(repeating: "v", count: 64),
                ]
            ),
        ]),
    // Line breaks inside quotes next to doubled quotes, a lone CR inside quotes, and a quoted
    // field without one: the lines of the records after them.
    ReaderFixture(
        "line breaks beside doubled quotes",
        "a,b\n\"\"\"x\n\"\"\",\"\"\"\"\n\"p\rq\",\"plain\"\n\"\"\"\"\"\",z\nend,1\n",
        header: ["a", "b"],
        rows: [(2, ["\"x\n\"", "\""]), (4, ["p\rq", "plain"]), (6, ["\"\"", "z"]), (7, ["end", "1"])]),
    // A record crosses the limit only after many fields, and after a quoted line break.
    ReaderFixture(
        "record over the limit after many fields",
        "c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12\n"
            + "\"x\ny\",1,1,1,1,1,1,1,1,1,1,1\n1,1,1,1,1,1,1,1,1,1,1,1\n"
            + Array(repeating: "SECRET", count: 12).joined(separator: ",") + "\n",
        header: (1...12).map { "c\($0)" },
        rows: [(2, ["x\ny"] + Array(repeating: "1", count: 11)), (4, Array(repeating: "1", count: 12))],
        error: CSVError(.recordTooLarge(limit: 40), at: at(5, record: 3, column: "c7")),
        options: CSVReadOptions(maxFieldBytes: 1 << 20, maxRecordBytes: 40)),
    // Lines that repeat the line before's leading fields (taken from its record, not parsed
    // again, in chunks without a CR or a quoted line break): quoted delimiters and doubled
    // quotes among them, a whole line repeated, a line that ends in a delimiter, a blank line
    // between, and a short line after them.
    ReaderFixture(
        "repeated leading fields",
        "id,name,kind,t,v\nM1,Ann,\"flat, converted\",00:00,1\nM1,Ann,\"flat, converted\",00:30,2\n"
            + "M1,Ann,\"flat, converted\",00:30,2\nM1,Ann,\"say \"\"hi\"\"\",01:00,\nM1,Ann,\"say \"\"hi\"\"\",01:30,\n"
            + "M1,Bob,x,,\nM1,Bob,x,,\n\nM1,Bob,x,y,z\nM1,Bob,x,\"y\",z\nM1,Bob,x,y\n",
        header: ["id", "name", "kind", "t", "v"],
        rows: [
            (2, ["M1", "Ann", "flat, converted", "00:00", "1"]), (3, ["M1", "Ann", "flat, converted", "00:30", "2"]),
            (4, ["M1", "Ann", "flat, converted", "00:30", "2"]), (5, ["M1", "Ann", "say \"hi\"", "01:00", ""]),
            (6, ["M1", "Ann", "say \"hi\"", "01:30", ""]), (7, ["M1", "Bob", "x", "", ""]),
            (8, ["M1", "Bob", "x", "", ""]),
            (10, ["M1", "Bob", "x", "y", "z"]), (11, ["M1", "Bob", "x", "y", "z"]),
        ],
        error: CSVError(.fieldCountMismatch(found: 4, expected: 5), at: at(12, record: 10))),
    ReaderFixture(
        "repeated leading fields with spaces and a tab delimiter", "a\tb\tc\n x \t y \t1\n x \t y \t2\n x \t y\t3\n",
        header: ["a", "b", "c"], rows: [(2, [" x ", " y ", "1"]), (3, [" x ", " y ", "2"]), (4, [" x ", " y", "3"])]),
    ReaderFixture("empty input", "", header: [], rows: [], error: CSVError(.emptyInput, at: at(nil))),
    ReaderFixture("only blank lines", "\n\r\n\n", header: [], rows: [], error: CSVError(.emptyInput, at: at(nil))),
    ReaderFixture(
        "duplicate column name", "id,kwh,id\n1,2,3\n", header: [], rows: [],
        error: CSVError(.duplicateColumnName(name: "id", index: 3, firstIndex: 1), at: at(1))),
    ReaderFixture(
        "empty column name", "id,,kwh\n1,2,3\n", header: [], rows: [],
        error: CSVError(.emptyColumnName(index: 2), at: at(1))),
    ReaderFixture(
        "header not UTF-8", [0x69, 0x64, 0xFF, 0x2C, 0x62, 0x0A], header: [], rows: [],
        error: CSVError(.invalidHeaderEncoding, at: at(1))),
    ReaderFixture(
        "unterminated quote in the header", "a,\"b\n", header: [], rows: [],
        error: CSVError(.unterminatedQuote, at: at(1))),
]

@Suite("CSVReader in every chunking")
struct CSVReaderChunkingTests {
    @Test("whole input", arguments: readerFixtures)
    func wholeInput(_ fixture: ReaderFixture) {
        let outcome = readAll(fixture.text, options: fixture.options)
        #expect(outcome == fixture.expected, "\(outcome)")
    }

    @Test("one byte at a time", arguments: readerFixtures)
    func oneByteAtATime(_ fixture: ReaderFixture) {
        #expect(readAll(fixture.text, chunkSizes: [1], options: fixture.options) == fixture.expected)
    }

    /// Reads the fixture cut in two at every byte, with its options changed by `change`.
    private func expectEveryTwoWaySplit(_ fixture: ReaderFixture, _ change: (inout CSVReadOptions) -> Void = { _ in }) {
        var options = fixture.options
        change(&options)
        for split in 1..<max(fixture.text.count, 2) {
            let outcome = readAll(fixture.text, chunkSizes: [split, fixture.text.count + 1], options: options)
            #expect(outcome == fixture.expected, "split at \(split): \(outcome)")
        }
    }

    @Test("every two-way split", arguments: readerFixtures)
    func everyTwoWaySplit(_ fixture: ReaderFixture) {
        expectEveryTwoWaySplit(fixture)
    }

    @Test("every two-way split, fields copied out of libcsv's buffer", arguments: readerFixtures)
    func everyTwoWaySplitCopying(_ fixture: ReaderFixture) {
        expectEveryTwoWaySplit(fixture) { $0.copiesFields = true }
    }

    @Test("every two-way split, every byte parsed", arguments: readerFixtures)
    func everyTwoWaySplitParsingEveryByte(_ fixture: ReaderFixture) {
        expectEveryTwoWaySplit(fixture) { $0.reusesLeadingFields = false }
    }

    /// Random inputs made of runs of lines that share their leading fields (plain, quoted with a
    /// delimiter or doubled quotes, empty, spaces), with now and then a quoted line break, a
    /// CR LF, a stray quote, a blank line or a short line: taking repeated fields from the
    /// record before reads exactly what parsing every byte reads, in any chunking, in blocks,
    /// and with fields copied out of libcsv's buffer.
    @Test func repeatedLeadingFieldsReadLikeEveryByteParsed() throws {
        var random = TestRandom(seed: 1130)
        var reused = 0
        var accepted = 0
        var marked = 0
        for trial in 0..<1200 {
            let bytes = repeatedRunsCSV(&random)
            var parsingAll = CSVReadOptions(delimiter: .comma)
            parsingAll.reusesLeadingFields = false
            let expected = readAll(bytes, options: parsingAll)
            if expected.error == nil { accepted += 1 }
            var copying = CSVReadOptions(delimiter: .comma)
            copying.copiesFields = true
            let sizes = (0..<6).map { _ in Int.random(in: 1...90, using: &random) }
            #expect(readAll(bytes, options: CSVReadOptions(delimiter: .comma)) == expected, "trial \(trial): \(bytes)")
            #expect(
                readAll(bytes, chunkSizes: sizes, options: CSVReadOptions(delimiter: .comma)) == expected,
                "trial \(trial), chunks \(sizes)")
            #expect(
                readAll(bytes, chunkSizes: sizes, options: copying) == expected,
                "trial \(trial), copying, chunks \(sizes)")
            #expect(
                readInBlocks(
                    bytes, blockSize: Int.random(in: 1...200, using: &random),
                    options: CSVReadOptions(delimiter: .comma)) == expected,
                "trial \(trial) in blocks")
            // Each record's fields marked as taken from the record before are that record's.
            let reader = try CSVReader(
                source: InputSource(bytes: bytes, chunkSizes: sizes, displayName: "random.csv"),
                options: CSVReadOptions(delimiter: .comma, chunkSize: sizes.max()!))
            var record = CSVRecord()
            var previous: [String] = []
            while (try? reader.readRecord(into: &record)) == true {
                #expect(
                    record.repeatedFields < record.count
                        && Array(record.strings.prefix(record.repeatedFields))
                            == Array(previous.prefix(record.repeatedFields)),
                    "trial \(trial), record \(record.number)")
                marked += record.repeatedFields
                previous = record.strings
            }
            reused += reader.bytesReused
        }
        #expect(accepted > 400, "too few valid inputs to mean anything: \(accepted)")
        #expect(reused > 20_000, "repeated fields were hardly ever taken: \(reused) bytes")
        #expect(marked > 5_000)
    }

    /// On the bundled-style meter lines most bytes are taken from the record before; with the
    /// option off, none are.
    @Test func meterLinesAreMostlyNotParsedAgain() throws {
        let lines = (0..<2000).map {
            "MTR-000042,Ruby Taylor,ruby@example.net,IG3 6NB,\"flat, converted\",5,Std,2013-01-01 \(String(format: "%02d", $0 / 2 % 24)):\($0 % 2 == 0 ? "00" : "30"):00,0.\($0 % 997)"
        }
        let bytes = Array(
            ("meter_id,name,email,postcode,dwelling,occupants,tariff,time,kwh\n" + lines.joined(separator: "\n") + "\n")
                .utf8)
        for reusing in [true, false] {
            var options = CSVReadOptions()
            options.reusesLeadingFields = reusing
            let reader = try CSVReader(source: InputSource(bytes: bytes, displayName: "meters.csv"), options: options)
            var record = CSVRecord()
            var count = 0
            while try reader.readRecord(into: &record) {
                count += 1
                #expect(record.string(at: 4) == "flat, converted")
            }
            #expect(count == 2000)
            if reusing {
                #expect(
                    Double(reader.bytesReused) > 0.6 * Double(bytes.count), "\(reader.bytesReused) of \(bytes.count)")
            } else {
                #expect(reader.bytesReused == 0)
            }
        }
    }

    /// libcsv, as installed, writes fields where the reader points it (else every reader copies).
    @Test func libcsvWritesFieldsInPlace() {
        #expect(ParserState.libcsvWritesInPlace)
    }

    @Test("random chunks", arguments: readerFixtures)
    func randomChunks(_ fixture: ReaderFixture) {
        var random = TestRandom(seed: 20_261_129)
        for trial in 0..<50 {
            let sizes = (0..<8).map { _ in Int.random(in: 1...7, using: &random) }
            let outcome = readAll(fixture.text, chunkSizes: sizes, options: fixture.options)
            #expect(outcome == fixture.expected, "trial \(trial), chunk sizes \(sizes): \(outcome)")
        }
    }

    @Test("messages never contain cell values", arguments: readerFixtures.filter { $0.error != nil })
    func messagesHideValues(_ fixture: ReaderFixture) throws {
        let error = try #require(readAll(fixture.text, options: fixture.options).error)
        #expect(!error.description.contains("SECRET"))
        #expect(error.description.hasPrefix("fixture.csv"))
    }
}

@Suite("CSVReader messages")
struct CSVReaderMessageTests {
    @Test func fieldCountMessageNamesLineAndRecord() {
        let error = CSVError(
            .fieldCountMismatch(found: 7, expected: 8),
            at: InputPosition(source: "meters.csv", line: 1205, record: 1204))
        #expect(error.description == "meters.csv:1205: error: record 1204 has 7 fields; the header has 8")
    }

    @Test func explicitDelimiterOverridesDetection() {
        let outcome = readAll(Array("a;b,c\n1;2,3\n".utf8), options: CSVReadOptions(delimiter: .comma))
        #expect(outcome.header == ["a;b", "c"])
        #expect(outcome.rows.map(\.fields) == [["1;2", "3"]])
    }

    /// A quoted field exactly at the limit is accepted in every chunking, and one byte more is
    /// refused in every chunking: between chunks, libcsv holds a closing quote it has just read
    /// in the field (it drops it once the field ends), which must not count (found by the fuzzer).
    /// A field over the limit before a stray quote is the limit in every chunking too.
    @Test func limitsAreTheSameInEveryChunking() {
        var options = CSVReadOptions(delimiter: .comma, maxFieldBytes: 4, maxRecordBytes: 100)
        let atLimit = Array("a,b\n\"abcd\",x\n\"ab\"\"\",y\n".utf8)
        let over = Array("a,b\n\"abcde\",x\n".utf8)
        let stray = Array("a,b\nabcdef\"g,x\n".utf8)
        let overError = CSVError(
            .fieldTooLarge(limit: 4), at: InputPosition(source: "fixture.csv", line: 2, record: 1, column: "a"))
        for size in 1...12 {
            #expect(
                readAll(atLimit, chunkSizes: [size], options: options).rows.map(\.fields) == [
                    ["abcd", "x"], ["ab\"", "y"],
                ], "chunks of \(size)")
            #expect(readAll(over, chunkSizes: [size], options: options).error == overError, "chunks of \(size)")
            #expect(readAll(stray, chunkSizes: [size], options: options).error == overError, "chunks of \(size)")
        }
        options.maxFieldBytes = 100
        options.maxRecordBytes = 6
        // The record's fields' content passes 6 bytes when its second field ends.
        let record = CSVError(
            .recordTooLarge(limit: 6), at: InputPosition(source: "fixture.csv", line: 2, record: 1, column: "b"))
        for size in 1...12 {
            #expect(
                readAll(Array("a,b\nabc,\"defg\"\n".utf8), chunkSizes: [size], options: options).error == record,
                "chunks of \(size)")
        }
    }

    /// The reader refuses a field that is not valid UTF-8, naming its line, record and column,
    /// in every chunking (the chunk holding the bad byte may be any of them).
    @Test func invalidUTF8IsAnErrorWithItsPosition() throws {
        let bytes = Array("id,name\n1,ok\n2,".utf8) + [0xC3, 0x28] + [0x0A] + Array("3,ok\n".utf8)
        let expected = CSVError(
            .invalidUTF8, at: InputPosition(source: "people.csv", line: 3, record: 2, column: "name"))
        for size in [1, 2, 3, 5, 7, 16, 1 << 20] {
            let outcome = readAll(bytes, chunkSizes: [size], name: "people.csv")
            #expect(outcome.rows.map(\.fields) == [["1", "ok"]], "chunks of \(size)")
            #expect(outcome.error == expected, "chunks of \(size)")
        }
        // Valid UTF-8 beyond ASCII passes, and so does a record in an ASCII chunk after it.
        let valid = Array("id,name\n1,Zoë\n2,Søren\n3,ok\n".utf8)
        for size in [1, 3, 1 << 20] {
            #expect(
                readAll(valid, chunkSizes: [size]).rows.map(\.fields) == [["1", "Zoë"], ["2", "Søren"], ["3", "ok"]])
        }
    }

    /// A field the reader took from the record before is not checked again (it was checked
    /// then), and the first one after such fields is.
    @Test func invalidUTF8AfterRepeatedFieldsIsFound() throws {
        let bytes = Array("id,name,note\nÄ,ok,a\nÄ,ok,".utf8) + [0xC3, 0x28] + [0x0A]
        let reader = try CSVReader(source: InputSource(bytes: bytes, displayName: "people.csv"))
        var record = CSVRecord()
        #expect(try reader.readRecord(into: &record))
        #expect(
            throws: CSVError(.invalidUTF8, at: InputPosition(source: "people.csv", line: 3, record: 2, column: "note"))
        ) {
            try reader.readRecord(into: &record)
        }
    }

    /// An input in a legacy single-byte encoding is read, converted to UTF-8, with
    /// `encoding`; a UTF-16 file is refused with what to do.
    @Test func legacyEncodingsAreConverted() throws {
        let directory = try TemporaryDirectory()
        // "Zoë;Söder €5" in Latin-1 and Windows-1252 (0x80 is the euro sign in the latter).
        let path = try directory.write(
            "legacy.csv",
            Array("name,note\nZo".utf8) + [0xEB] + Array(",S".utf8) + [0xF6] + Array("der ".utf8) + [0x80]
                + Array("5\n".utf8))
        let latin1 = readAll(options: CSVReadOptions(encoding: .latin1)) {
            try InputSource(path: path, encoding: .latin1)
        }
        #expect(latin1.rows.map(\.fields) == [["Zoë", "Söder \u{80}5"]])
        let windows = readAll(options: CSVReadOptions(encoding: .windows1252)) {
            try InputSource(path: path, encoding: .windows1252)
        }
        #expect(windows.rows.map(\.fields) == [["Zoë", "Söder €5"]])
        #expect(readAll(path: path).error?.kind == .invalidUTF8)
        let utf16 = try directory.write("wide.csv", [0xFF, 0xFE] + Array("a\0,\0b\0\n\0".utf8))
        #expect(readAll(path: utf16).error == CSVError(.utf16Input, at: InputPosition(source: utf16, line: 1)))
    }

    /// A first data line that starts like the header is read right, and repeats nothing to the
    /// reader's callers (a transformer that read another input's records before must not take
    /// the header's fields for its last record's).
    @Test func theFirstRecordRepeatsNothingOfTheHeader() throws {
        let bytes = Array("id,name,v\nid,name,1\nid,name,2\n".utf8)
        let reader = try CSVReader(source: InputSource(bytes: bytes, displayName: "in.csv"))
        var record = CSVRecord()
        #expect(try reader.readRecord(into: &record))
        #expect(record.strings == ["id", "name", "1"] && record.repeatedFields == 0)
        #expect(try reader.readRecord(into: &record))
        #expect(record.strings == ["id", "name", "2"] && record.repeatedFields == 2)
    }

    @Test func largeFieldWithinTheLimitIsRead() {
        // Letters in a pattern, so that a field moved with the batch as it grows (the field is
        // open across chunks) must keep every byte; in place and copied.
        let big = String((0..<(3 << 20)).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 23))) })
        for copies in [false, true] {
            var options = CSVReadOptions()
            options.copiesFields = copies
            let outcome = readAll(Array("a,b\n1,\"\(big)\"\n2,x\n".utf8), chunkSizes: [65536], options: options)
            #expect(outcome.error == nil)
            #expect(outcome.rows.first?.fields[1] == big && outcome.rows.last?.fields == ["2", "x"])
        }
    }

    @Test func runawayQuoteStopsAtTheLimitWithItsLine() {
        // An unclosed quote on line 3 swallows the rest of a long input: the reader stops near
        // the limit instead of buffering everything.
        let tail = String(repeating: "1,2\n", count: 200_000)
        let text = "a,b\n1,2\n3,\"oops\n" + tail
        let outcome = readAll(
            Array(text.utf8), chunkSizes: [4096],
            options: CSVReadOptions(maxFieldBytes: 64 << 10, maxRecordBytes: 1 << 20))
        #expect(outcome.rows.count == 1)
        #expect(
            outcome.error
                == CSVError(
                    .fieldTooLarge(limit: 64 << 10),
                    at: InputPosition(source: "fixture.csv", line: 3, record: 2, column: "b")))
    }
}
