import DeidTestSupport
import Foundation
import Testing

@testable import DeidCSV

@Suite("gzip input and atomic output")
struct GzipAndOutputTests {
    static let text = "id,kwh\n" + (1...5000).map { "m\($0 % 37),\(Double($0) / 1000)\n" }.joined()

    func reading(_ path: String) -> ReadOutcome { readAll(path: path) }

    @Test func gzipIsRecognisedByContentNotName() throws {
        let directory = try TemporaryDirectory()
        let plain = try directory.write("data.csv", Array(Self.text.utf8))
        try run("/bin/gzip", ["-k", plain])
        // A gzip file called .csv, and a plain file called .gz.
        try run("/bin/mv", [directory.file("data.csv.gz"), directory.file("compressed.csv")])
        let fakeGzip = try directory.write("plain.gz", Array(Self.text.utf8))
        let expected = reading(plain)
        #expect(expected.rows.count == 5000 && expected.error == nil)
        #expect(reading(directory.file("compressed.csv")) == expected)
        #expect(reading(fakeGzip) == expected)
        let source = try InputSource(path: directory.file("compressed.csv"))
        _ = try CSVReader(source: source)
        #expect(source.isCompressed)
    }

    @Test func concatenatedMembersDecodeInFull() throws {
        let directory = try TemporaryDirectory()
        let first = try directory.write("a.csv", Array("id,kwh\n1,0.5\n".utf8))
        let second = try directory.write("b.csv", Array("2,0.7\n3,0.9\n".utf8))
        try run("/bin/gzip", [first, second])
        let joined = try directory.read("a.csv.gz") + directory.read("b.csv.gz")
        let path = try directory.write("joined.csv.gz", joined)
        #expect(reading(path).rows.map(\.fields) == [["1", "0.5"], ["2", "0.7"], ["3", "0.9"]])
    }

    @Test func truncatedGzipIsAnErrorNotAShortRead() throws {
        let directory = try TemporaryDirectory()
        try run("/bin/gzip", [try directory.write("data.csv", Array(Self.text.utf8))])
        let whole = try directory.read("data.csv.gz")
        for cut in [whole.count - 4, whole.count / 2, 30] {
            let path = try directory.write("cut\(cut).csv.gz", Array(whole[0..<cut]))
            let outcome = reading(path)
            #expect(
                outcome.error == CSVError(.truncatedGzip(offset: cut), at: InputPosition(source: path)), "cut at \(cut)"
            )
            // Cut inside the trailer, every record may have been decoded; the error still comes.
            if cut < whole.count - 8 { #expect(outcome.rows.count < 5000) }
        }
    }

    /// Bytes after the last member that are not another member are an error (gzip's own
    /// tool only warns), at the offset where they start; trailing zeros too.
    @Test func bytesAfterTheGzipStreamAreAnError() throws {
        let directory = try TemporaryDirectory()
        try run("/bin/gzip", [try directory.write("data.csv", Array(Self.text.utf8))])
        let whole = try directory.read("data.csv.gz")
        for tail: [UInt8] in [Array("junk\n".utf8), [0, 0, 0, 0], [0x1F]] {
            let path = try directory.write("tail.csv.gz", whole + tail)
            let outcome = reading(path)
            #expect(
                outcome.error == CSVError(.trailingData(offset: whole.count), at: InputPosition(source: path)),
                "\(tail)")
        }
    }

    /// gzip from a pipe: the same records as from the file, and a truncated stream is still an
    /// error (the magic bytes may arrive one at a time).
    @Test func gzipFromAPipeReadsLikeAFile() throws {
        let directory = try TemporaryDirectory()
        try run("/bin/gzip", [try directory.write("data.csv", Array(Self.text.utf8))])
        let whole = try directory.read("data.csv.gz")
        let fifo = directory.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        for (bytes, expectTruncated) in [(whole, false), (Array(whole[0..<(whole.count / 2)]), true)] {
            let writer = Thread {
                guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
                for start in stride(from: 0, to: bytes.count, by: 1000) {
                    handle.write(Data(bytes[start..<min(start + 1000, bytes.count)]))
                }
                try? handle.close()
            }
            writer.start()
            let outcome = reading(fifo)
            if expectTruncated {
                #expect(outcome.error == CSVError(.truncatedGzip(offset: bytes.count), at: InputPosition(source: fifo)))
            } else {
                #expect(outcome.error == nil && outcome.rows.count == 5000)
            }
        }
    }

    @Test func corruptGzipIsAnError() throws {
        let directory = try TemporaryDirectory()
        try run("/bin/gzip", [try directory.write("data.csv", Array(Self.text.utf8))])
        var bytes = try directory.read("data.csv.gz")
        // Damage the checksum at the end: every byte decodes, but the data check fails.
        bytes[bytes.count - 6] ^= 0xFF
        let path = try directory.write("bad.csv.gz", bytes)
        let outcome = reading(path)
        guard case .corruptGzip(let reason, let offset)? = outcome.error?.kind else {
            Issue.record("expected corrupt gzip, got \(outcome)")
            return
        }
        // The checksum is checked at the end of the member; the message names zlib's reason.
        #expect(reason == "incorrect data check" && offset > bytes.count - 16 && offset <= bytes.count)
    }

    @Test func gzipOutputReadsBackAndGunzips() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.csv.gz")
        let writer = CSVWriter(output: try OutputFile(path: path))
        try writer.write(fields: ["id", "note"])
        try writer.write(fields: ["1", "a,b"])
        try writer.finish()
        #expect(try run("/bin/gzip", ["-t", path]) == 0)
        #expect(reading(path).rows.map(\.fields) == [["1", "a,b"]])
    }

    /// Outputs of many write-back steps (plain: 16 MiB; gzip: 64 MiB given to zlib) are
    /// written in uneven pieces, synced early as they grow, and read back byte for byte.
    @Test func largeOutputsWrittenBackEarlyReadBackWhole() throws {
        let directory = try TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let pattern = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ ($0 >> 9)) }
        var expected: [UInt8] = []
        while Int64(expected.count) <= 4 * WriteBack.step + 123_457 {
            let from = Int(generator.next() % UInt64(pattern.count))
            expected += pattern[from...]
        }
        for name in ["out.csv", "packed.csv.gz"] {
            let output = try OutputFile(path: directory.file(name), compressionLevel: 1)
            var start = 0
            while start < expected.count {
                let end = min(expected.count, start + 1 + Int(generator.next() % 3_000_000))
                try expected[start..<end].withUnsafeBytes { try output.write($0) }
                start = end
            }
            try output.commit()
        }
        #expect(Self.same(try directory.read("out.csv"), expected))
        #expect(try run("/bin/gzip", ["-d", directory.file("packed.csv.gz")]) == 0)
        #expect(Self.same(try directory.read("packed.csv"), expected))
    }

    /// Byte equality of large arrays without an element loop in a debug build.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count
            && a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
            }
    }

    @Test func writeBackIsAvailableForFilesNotPipes() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("data", Array(repeating: 7, count: 1 << 20))
        let descriptor = open(path, O_WRONLY)
        defer { close(descriptor) }
        #if os(Linux)
            #expect(WriteBack.start(descriptor, from: 0, count: 0))
            #expect(WriteBack.start(descriptor, from: 4096, count: 8192))
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            #expect(!WriteBack.start(ends[1], from: 0, count: 0))
            close(ends[0])
            close(ends[1])
        #endif
    }

    @Test func abandonedOutputLeavesNothing() throws {
        let directory = try TemporaryDirectory()
        let output = try OutputFile(path: directory.file("out.csv"))
        try output.write(text: "partial")
        #expect(try directory.listing().count == 1)  // the temporary file, hidden
        #expect(try directory.listing()[0].hasPrefix(".out.csv.deid-tmp-"))
        output.abandon()
        #expect(try directory.listing().isEmpty)
    }

    @Test func outputIsInvisibleUntilCommitted() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write("out.csv", Array("old\n".utf8))
        do {
            let output = try OutputFile(path: directory.file("out.csv"))
            try output.write(text: "new\n")
            #expect(try directory.read("out.csv") == Array("old\n".utf8))
            try output.commit()
        }
        #expect(try directory.read("out.csv") == Array("new\n".utf8))
        #expect(try directory.listing() == ["out.csv"])
        do {
            // Dropped without commit: the old file stays, the temporary file goes.
            let output = try OutputFile(path: directory.file("out.csv"))
            try output.write(text: "newer\n")
        }
        #expect(try directory.read("out.csv") == Array("new\n".utf8))
        #expect(try directory.listing() == ["out.csv"])
    }

    @Test func refusesToOverwriteTheInput() throws {
        let directory = try TemporaryDirectory()
        let input = try directory.write("in.csv", Array("a\n1\n".utf8))
        let identity = try #require(FileIdentity.of(path: input))
        // The same file under another name (a relative path through "..") is still refused.
        let other = directory.path + "/../" + directory.path.split(separator: "/").last! + "/in.csv"
        #expect(throws: CSVError(.wouldOverwriteInput(output: other), at: InputPosition(source: other))) {
            _ = try OutputFile(path: other, protecting: [identity])
        }
        #expect(try directory.read("in.csv") == Array("a\n1\n".utf8))
        #expect(try directory.listing() == ["in.csv"])
    }

    @Test func missingInputNamesTheFile() {
        #expect(
            throws: CSVError(
                .cannotOpen(reason: "No such file or directory"), at: InputPosition(source: "/no/such.csv"))
        ) {
            _ = try InputSource(path: "/no/such.csv")
        }
    }
}
