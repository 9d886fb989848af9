import CZlib
import DeidCSV
import DeidKit
import DeidTestSupport
import Foundation

/// The fuzz targets: each takes any bytes and either returns or stops the process with a
/// finding (`fatalError`, which libFuzzer records with the input). Besides not crashing, each
/// checks that a fast path agrees with its slow twin on the same input.
enum FuzzTarget: String, CaseIterable {
    /// The CSV reader: the same records and error in every chunking, with and without reuse of
    /// repeated leading fields, with fields copied or written in place, in blocks; and the
    /// reference parser's records when the input is accepted.
    case csv
    /// gzip and plain input: what deid decodes, zlib's own gzread decodes too, byte for byte;
    /// every byte of the file is seen for its fingerprint.
    case gzip
    /// The policy loader: a policy, or diagnostics, never a crash; a loaded policy compiles or
    /// says why not; no message holds the key.
    case policy
    /// Hierarchy files: a table or an error; every lookup answers.
    case hierarchy
    /// The spool between a privacy run's two passes: records made from the input run through
    /// both passes with repeat frames and with full frames only, the spool read and the output
    /// written in large and in tiny pieces; every way gives the same release.
    case spool

    func run(_ data: [UInt8]) {
        switch self {
        case .csv: Self.csv(data)
        case .gzip: Self.gzip(data)
        case .policy: Self.policy(data)
        case .hierarchy: Self.hierarchy(data)
        case .spool: Self.spool(data)
        }
    }

    /// Stops with `message`, control characters escaped (a NUL would end the printed message).
    static func finding(_ message: String) -> Never {
        let printable = message.unicodeScalars.map {
            $0.value < 0x20 && $0 != "\n" ? "\\u{\(String($0.value, radix: 16))}" : String($0)
        }.joined()
        fatalError("deid-fuzz finding: \(printable)")
    }

    // MARK: CSV

    static func csv(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let bytes = Array(data.dropFirst())
        let delimiters: [CSVDelimiter?] = [nil, .comma, .semicolon, .tab, .pipe]
        var options = CSVReadOptions(delimiter: delimiters[Int(selector % 5)])
        options.validatesUTF8 = selector & 0x08 == 0
        if selector & 0x10 != 0 {
            // Small limits, to reach the field and record limits.
            options.maxFieldBytes = 24
            options.maxRecordBytes = 48
        }
        // One chunk holding the whole input (no larger: a reader allocates its chunk).
        let all = max(bytes.count, 1)
        let whole = readAll(bytes, chunkSizes: [all], options: options)
        if let other = whole.otherError { finding(other) }
        // Chunkings: fixed ones and one the input chooses.
        let chosen = bytes.prefix(6).map { Int($0 % 17) + 1 }
        for sizes in [[1], [2], [3], [7], [64], chosen.isEmpty ? [5] : chosen] {
            let outcome = readAll(bytes, chunkSizes: sizes, options: options)
            if outcome != whole { finding("chunks \(sizes): \(outcome) against \(whole)") }
        }
        var parsingAll = options
        parsingAll.reusesLeadingFields = false
        for sizes in [[all], [3]] {
            let outcome = readAll(bytes, chunkSizes: sizes, options: parsingAll)
            if outcome != whole { finding("every byte parsed, chunks \(sizes): \(outcome) against \(whole)") }
        }
        var copying = options
        copying.copiesFields = true
        let copied = readAll(bytes, chunkSizes: [5], options: copying)
        if copied != whole { finding("fields copied: \(copied) against \(whole)") }
        for blockSize in [1, 9, 200] {
            let outcome = readInBlocks(bytes, blockSize: blockSize, options: options)
            if outcome != whole && !sameLimit(outcome, whole) {
                finding("blocks of \(blockSize): \(outcome) against \(whole)")
            }
        }
        // Accepted input: the reference parser's records (it knows no byte-order mark).
        if whole.error == nil, let delimiter = options.delimiter, !bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            let reference = referenceParse(bytes, delimiter: delimiter.rawValue)
            if reference != [whole.header] + whole.rows.map(\.fields) {
                finding("the reference parser reads \(reference), the reader \(whole)")
            }
        }
    }

    /// A read in blocks, `blocks`, that differs from the whole read only where the limits are
    /// counted differently: the splitter cuts a record by its raw bytes (quotes and delimiters
    /// included), the reader counts its fields' content. So in blocks a record whose raw bytes
    /// pass the record limit is refused as too large (the whole read may accept it, or name
    /// the field limit), after the same records; and when that record is the first (the
    /// header), the first block ends inside it, where the delimiter is detected: both reads
    /// refuse the header, one of them for a limit, but what else they see in it may differ.
    static func sameLimit(_ blocks: ReadOutcome, _ whole: ReadOutcome) -> Bool {
        func isLimit(_ error: CSVError?) -> Bool {
            switch error?.kind {
            case .fieldTooLarge?, .recordTooLarge?: return true
            default: return false
            }
        }
        if blocks.header.isEmpty && whole.header.isEmpty && blocks.error != nil && whole.error != nil {
            return isLimit(blocks.error) || isLimit(whole.error)
        }
        guard case .recordTooLarge? = blocks.error?.kind else { return false }
        if blocks.header.isEmpty { return blocks.rows.isEmpty }
        return blocks.header == whole.header && whole.rows.starts(with: blocks.rows)
    }

    // MARK: gzip

    static let scratch: String = {
        let path = NSTemporaryDirectory() + "/deid-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func gzip(_ data: [UInt8]) {
        let path = scratch + "/input"
        guard FileManager.default.createFile(atPath: path, contents: Data(data)) else {
            finding("cannot write \(path)")
        }
        var seen = 0
        var decoded: [UInt8] = []
        var failure: CSVError?
        do {
            let source = try InputSource(path: path, bufferSize: 64)
            source.rawBytesObserver = { seen += $0.count }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
            defer { buffer.deallocate() }
            var size = 1
            while true {
                // Reads of varying sizes.
                let count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
                if count == 0 { break }
                decoded += buffer[0..<count]
                size = size % 4096 + 1 + count % 97
            }
        } catch let error as CSVError {
            failure = error
        } catch {
            finding("unexpected error type \(error)")
        }
        if !data.starts(with: [0x1F, 0x8B]) {
            if failure != nil || decoded != data {
                finding("plain input not passed through: \(failure.map { "\($0)" } ?? "\(decoded.count) bytes")")
            }
        }
        guard failure == nil else { return }
        if seen != data.count { finding("the fingerprint saw \(seen) of \(data.count) bytes") }
        // zlib's gzread decodes the same bytes.
        guard let file = gzopen(path, "rb") else { finding("gzopen failed") }
        defer { gzclose(file) }
        var twin: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if count < 0 { finding("deid decoded \(decoded.count) bytes where gzread fails") }
            if count == 0 { break }
            twin += chunk[0..<Int(count)]
        }
        var code: Int32 = 0
        _ = gzerror(file, &code)
        if code != Z_OK && code != Z_STREAM_END {
            finding("deid decoded \(decoded.count) bytes where gzread ends with error \(code)")
        }
        if twin != decoded { finding("deid decoded \(decoded.count) bytes, gzread \(twin.count)") }
    }

    // MARK: Policies and hierarchies

    static let key = "fuzz-key-0123456789abcdef0123456789abcdef"
    static let header = ["id", "name", "postcode", "age", "kwh", "when", "note"]

    static func policy(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        let environment = ["DEID_KEY": key]
        do {
            let policy = try PolicyLoader.parse(
                text: text, file: "policy.yaml", directory: scratch, header: header, environment: environment)
            do {
                _ = try TransformPlan(
                    policy: policy, header: header, releaseID: "fuzz", seed: 1, environment: environment)
            } catch let error as KeyError {
                if error.message.contains(key) { finding("a message holds the key") }
            } catch {
                // A plan may refuse what only the data can tell (a hierarchy's file, a key).
                if "\(error)".contains(key) { finding("a message holds the key") }
            }
        } catch let error as PolicyError {
            if error.diagnostics.isEmpty { finding("a policy error without a diagnostic") }
            for diagnostic in error.diagnostics where diagnostic.description.contains(key) || diagnostic.message.isEmpty
            {
                finding("diagnostic \(diagnostic)")
            }
        } catch {
            finding("unexpected error type \(error)")
        }
    }

    static func hierarchy(_ data: [UInt8]) {
        let table: HierarchyTable
        do {
            table = try HierarchyTable(contents: data, displayName: "h.csv")
        } catch is KeyError {
            return
        } catch {
            finding("unexpected error type \(error)")
        }
        guard table.levelCount >= 1 else { finding("a table without levels") }
        // Every value the file lists (as the reference parser reads it) is found at every level.
        guard !data.starts(with: [0xEF, 0xBB, 0xBF]) else { return }
        for row in referenceParse(data, delimiter: HierarchyTable.delimiter(of: data).rawValue) where !row.isEmpty {
            let value = Array(row[0].utf8)[...]
            for level in 1...table.levelCount where table.generalization(of: value, level: level) == nil {
                finding("value \(row[0]) not found at level \(level)")
            }
        }
    }

    // MARK: The spool

    static let spoolPolicy = """
        version: 1
        dataset: { name: fuzz }
        entity: id
        privacy: { k: 2, suppression_limit: 1, l_diversity: { column: note, l: 1 } }
        columns:
          id: { role: identifier, pseudonymize: { key: "env:DEID_KEY" } }
          age: { role: quasi_identifier, generalize: { intervals: [0, 20, 40, 60, 80] } }
          zip: { role: quasi_identifier, generalize: { prefix: [3, 1] } }
          note: { role: sensitive }
          kwh: { role: insensitive }

        """

    /// Records from the bytes, five a record: a household (repeating the one before, or
    /// moving, now and then), its age and area, a note with quotes, delimiters and line breaks.
    static func spoolInput(_ data: [UInt8]) -> String {
        let zips = ["SW1A 1AA", "SW1A 2BB", "E1 6AN", "\"N1, 9GU\"", "Zoë 1", "CR1 2AB", "", " E2 "]
        let notes = ["a", "\"b,c\"", "\"d\ne\"", "\"say \"\"hi\"\"\"", "", "é", "x y", "\"\""]
        var lines = ["id,age,zip,note,kwh"]
        var previous: [String] = []
        var index = 0
        while index + 5 <= data.count {
            let bytes = data[index..<(index + 5)].map { Int($0) }
            var fields = [
                "h\(bytes[0] % 16)", "\(bytes[1] % 95)", zips[bytes[2] % zips.count], notes[bytes[3] % notes.count],
                "\(bytes[4]).\(bytes[4] % 10)",
            ]
            if bytes[0] >= 0x80 && !previous.isEmpty { fields.replaceSubrange(0..<3, with: previous[0..<3]) }
            lines.append(fields.joined(separator: ","))
            previous = fields
            index += 5
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func spool(_ data: [UInt8]) {
        let policyPath = scratch + "/spool.yaml"
        let inputPath = scratch + "/spool.csv"
        guard FileManager.default.createFile(atPath: policyPath, contents: Data(spoolPolicy.utf8)),
            FileManager.default.createFile(atPath: inputPath, contents: Data(spoolInput(data).utf8))
        else { finding("cannot write the inputs") }
        var outputs: [String] = []
        for (repeating, bufferSize, chunkBytes) in [
            (true, 1 << 22, 1 << 20), (false, 1 << 22, 1 << 20), (true, 5, 40), (false, 7, 64),
        ] {
            let request = TransformRequest(
                policyPath: policyPath, inputs: [inputPath], seed: 1, environment: ["DEID_KEY": key], workers: 2)
            let outputPath = scratch + "/out-\(outputs.count).csv"
            do {
                let (_, prepared, inputs) = try Publisher.prepare(request, releaseID: "fuzz")
                var plan = prepared
                plan.spoolsRepeatFrames = repeating
                var run = TransformRun(plan: plan, workers: 2)
                run.spoolBufferSize = bufferSize
                run.passTwoChunkBytes = chunkBytes
                let output = try OutputFile(path: outputPath)
                _ = try run.runPrivate(inputs: inputs, output: output, delimiter: .comma, spoolDirectory: scratch)
                try output.commit()
                outputs.append(String(decoding: try Data(contentsOf: URL(fileURLWithPath: outputPath)), as: UTF8.self))
            } catch is PrivacyGateError {
                outputs.append("refused")
            } catch {
                finding("the privacy run failed: \(error)")
            }
        }
        if Set(outputs).count != 1 { finding("the spool's ways differ: \(outputs)") }
    }
}
