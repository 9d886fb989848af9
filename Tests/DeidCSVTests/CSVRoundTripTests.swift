import DeidTestSupport
import Testing

@testable import DeidCSV

@Suite("CSVWriter round trip")
struct CSVRoundTripTests {
    /// Field values built from the characters that need care: quotes, every delimiter, CR, LF,
    /// spaces, tabs, non-ASCII text, and empty fields.
    static func randomField(_ random: inout TestRandom) -> String {
        let pieces = ["a", "Z", "7", " ", "\t", "\"", ",", ";", "|", "\n", "\r", "\r\n", "é", "日本", "\"\"", "x y"]
        let length = Int.random(in: 0...6, using: &random)
        return (0..<length).map { _ in pieces[Int.random(in: 0..<pieces.count, using: &random)] }.joined()
    }

    @Test(
        "write then read gives the same records, for every delimiter, in random chunks",
        arguments: CSVDelimiter.allCases)
    func roundTrip(delimiter: CSVDelimiter) throws {
        let directory = try TemporaryDirectory()
        var random = TestRandom(seed: 4180 + UInt64(delimiter.rawValue))
        for trial in 0..<40 {
            let columns = Int.random(in: 1...5, using: &random)
            let header = (0..<columns).map { "column \($0)" }
            let rows = (0..<Int.random(in: 0...30, using: &random)).map { _ in
                (0..<columns).map { _ in CSVRoundTripTests.randomField(&random) }
            }
            let path = directory.file("trial\(trial).csv")
            let writer = CSVWriter(output: try OutputFile(path: path), delimiter: delimiter, crlf: trial % 3 == 0)
            try writer.write(fields: header)
            for row in rows { try writer.write(fields: row) }
            try writer.finish()

            let bytes = try directory.read("trial\(trial).csv")
            let sizes = (0..<5).map { _ in Int.random(in: 1...64, using: &random) }
            let outcome = readAll(bytes, chunkSizes: sizes, options: CSVReadOptions(delimiter: delimiter))
            #expect(outcome.error == nil, "trial \(trial)")
            #expect(outcome.header == header, "trial \(trial)")
            #expect(outcome.rows.map(\.fields) == rows, "trial \(trial), chunk sizes \(sizes)")
            // The reference parser agrees on the same bytes.
            #expect(referenceParse(bytes, delimiter: delimiter.rawValue) == [header] + rows, "trial \(trial)")
        }
    }

    @Test func quotingIsMinimal() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.csv")
        let writer = CSVWriter(output: try OutputFile(path: path))
        try writer.write(fields: ["plain", "with,comma", "with \"quote\"", "line\nbreak", " spaced ", ""])
        try writer.write(fields: [""])
        try writer.finish()
        let text = String(decoding: try directory.read("out.csv"), as: UTF8.self)
        #expect(text == "plain,\"with,comma\",\"with \"\"quote\"\"\",\"line\nbreak\", spaced ,\n\"\"\n")
    }

    @Test func realDatasetsSurviveConversion() throws {
        // Reading a real file, writing it, and reading the result gives the same records.
        let directory = try TemporaryDirectory()
        for dataset in [
            "arx_adult/adult.csv", "nyc_taxi_2013/trip_data_2013-01_sample.csv",
            "lcl_smartmeter/lcl_2013_10households_jan.csv",
        ] {
            let path = try Paths.shared(dataset)
            let original = try CSVReader(source: InputSource(path: path))
            let output = directory.file("copy.csv")
            let writer = CSVWriter(output: try OutputFile(path: output), delimiter: original.delimiter)
            try writer.write(fields: original.header.names)
            var record = CSVRecord()
            var records: [CSVRecord] = []
            while try original.readRecord(into: &record) {
                try writer.write(record: record)
                records.append(record)
            }
            try writer.finish()
            let copy = try CSVReader(source: InputSource(path: output))
            #expect(copy.header == original.header)
            var index = 0
            while try copy.readRecord(into: &record) {
                #expect(record == records[index], "\(dataset) record \(index + 1)")
                index += 1
            }
            #expect(index == records.count && index > 0, "\(dataset)")
        }
    }
}

@Suite("CSVReader against the reference parser")
struct ReaderReferenceTests {
    @Test func randomInputsAgreeInEveryChunking() {
        // Whatever the reader accepts, it must read as the reference parser does; accepted or
        // not, the outcome (records, lines, error) must not depend on the chunking.
        // Rows of two raw fields under a two-column header (`randomRawCSV`).
        var random = TestRandom(seed: 1998)
        var accepted = 0
        for trial in 0..<3000 {
            let bytes = randomRawCSV(&random, maxRows: 4)
            let whole = readAll(bytes, options: CSVReadOptions(delimiter: .comma))
            let sizes = (0..<4).map { _ in Int.random(in: 1...9, using: &random) }
            let chunked = readAll(bytes, chunkSizes: sizes, options: CSVReadOptions(delimiter: .comma))
            #expect(chunked == whole, "trial \(trial): \(bytes) in chunks \(sizes)")
            var copying = CSVReadOptions(delimiter: .comma)
            copying.copiesFields = true
            #expect(
                readAll(bytes, chunkSizes: sizes, options: copying) == whole,
                "trial \(trial): \(bytes) in chunks \(sizes), copied")
            guard whole.error == nil else { continue }
            accepted += 1
            let reference = referenceParse(bytes)
            #expect([whole.header] + whole.rows.map(\.fields) == reference, "trial \(trial): \(bytes)")
        }
        #expect(accepted > 500, "too few valid inputs to mean anything: \(accepted)")
    }
}
