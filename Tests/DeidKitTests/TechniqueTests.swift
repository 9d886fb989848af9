import DeidCSV
import DeidTestSupport
import Foundation
import Testing

@testable import DeidKit

func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Each technique against values worked out by hand (or by an independent tool, as noted).
@Suite struct TechniqueTests {
    static let key = SecretKey(bytes: Array("0123456789abcdef0123456789abcdef".utf8))

    @Test func pseudonymIsHMACSHA256TruncatedAndEncoded() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e...
        let jefe = SecretKey(bytes: Array("Jefe".utf8))
        #expect(
            text(
                Pseudonymizer(key: jefe, length: 16, encoding: .hex).pseudonym(
                    for: bytes("what do ya want for nothing?"))) == "5bdcc146bf60754e")
        #expect(
            text(
                Pseudonymizer(key: jefe, length: 64, encoding: .hex).pseudonym(
                    for: bytes("what do ya want for nothing?")))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // base32 of the same MAC (Python: base64.b32encode(mac)[:20]).
        #expect(
            text(
                Pseudonymizer(key: jefe, length: 20, encoding: .base32).pseudonym(
                    for: bytes("what do ya want for nothing?"))) == "LPOMCRV7MB2U42QEEQTA")
        // Python: hmac.new(key, b"MTR-1", sha256).hexdigest()[:16]
        let pseudonymizer = Pseudonymizer(key: Self.key, length: 16, encoding: .hex)
        #expect(text(pseudonymizer.pseudonym(for: bytes("MTR-1"))) == "6529c2af73ea6306")
        // The copied keyed state is not disturbed by earlier values.
        _ = pseudonymizer.pseudonym(for: bytes("something else"))
        #expect(text(pseudonymizer.pseudonym(for: bytes("MTR-1"))) == "6529c2af73ea6306")
    }

    @Test func perReleaseKeysCannotBeJoined() {
        let first = Pseudonymizer(key: Self.key.derived(forRelease: "r1", purpose: "p"), length: 16, encoding: .hex)
        let again = Pseudonymizer(key: Self.key.derived(forRelease: "r1", purpose: "p"), length: 16, encoding: .hex)
        let second = Pseudonymizer(key: Self.key.derived(forRelease: "r2", purpose: "p"), length: 16, encoding: .hex)
        #expect(first.pseudonym(for: bytes("MTR-1")) == again.pseudonym(for: bytes("MTR-1")))
        #expect(first.pseudonym(for: bytes("MTR-1")) != second.pseudonym(for: bytes("MTR-1")))
        #expect(Self.key.id.count == 16 && !Self.key.description.contains("0123456789abcdef0123"))
    }

    @Test func dateShiftIsPerEntityAndBounded() {
        let shifter = DateShifter(key: Self.key, maxDays: 3)
        var seen = Set<Int>()
        for entity in 0..<200 {
            let days = shifter.days(for: bytes("MTR-\(entity)"))
            #expect((-3...3).contains(days))
            #expect(days == shifter.days(for: bytes("MTR-\(entity)")))
            seen.insert(days)
        }
        #expect(seen.count == 7)  // all seven shifts occur among 200 entities
        // Python: int.from_bytes(hmac(key, b"deid date shift\0" + e).digest()[:8], "big") % 61 - 30.
        // Without the prefix the shift would follow from the published pseudonym (27, -18, 17).
        let month = DateShifter(key: Self.key, maxDays: 30)
        #expect(["MTR-1", "MTR-2", "MTR-3"].map { month.days(for: bytes($0)) } == [-4, 10, -22])
        let time = TimestampValue.parse(bytes("2013-01-01 00:30:00"))!
        #expect(time.shifted(days: -2).text == "2012-12-30 00:30:00")
    }

    @Test func maskingKeepsEndsOrReplacesAPattern() throws {
        let ends = try Masker(spec: MaskSpec(keepFirst: 2, keepLast: 4, pattern: nil, character: "*"))
        #expect(text(ends.mask(bytes("jane@example.org"))) == "ja**********.org")
        #expect(text(ends.mask(bytes("abc"))) == "abc")
        #expect(text(ends.mask(bytes("zoë-müller"))) == "zo****ller")
        let digits = try Masker(spec: MaskSpec(keepFirst: 0, keepLast: 0, pattern: "[0-9]", character: "#"))
        #expect(text(digits.mask(bytes("SW1A 2AA"))) == "SW#A #AA")
        #expect(digits.mask(bytes("")) == [])
    }

    @Test func cellSuppressionReplacesListedOrAllValues() {
        let listed = CellSuppressor(spec: SuppressSpec(token: "*", values: ["rare", "other"]))
        #expect(text(listed.suppress(bytes("rare"))) == "*")
        #expect(text(listed.suppress(bytes("common"))) == "common")
        let all = CellSuppressor(spec: SuppressSpec(token: "[suppressed]", values: nil))
        #expect(text(all.suppress(bytes("anything"))) == "[suppressed]")
        #expect(all.suppress(bytes("")) == [])
    }

    func generalize(_ method: GeneralizationSpec.Method, _ value: String, level: Int = 1, latitude: String? = nil)
        throws -> String
    {
        let generalizer = try Generalizer(spec: GeneralizationSpec(method: method, level: level))
        return text(try generalizer.generalize(bytes(value), level: level, latitude: latitude.map(bytes)))
    }

    @Test func roundingDownToABase() throws {
        #expect(try generalize(.round([5]), "12.4") == "10")
        #expect(try generalize(.round([5]), "14.99") == "10")
        #expect(try generalize(.round([5]), "15") == "15")
        #expect(try generalize(.round([5]), "-1") == "-5")
        #expect(try generalize(.round([0.5]), "1.26") == "1.0")
        #expect(try generalize(.round([0.1]), "0.3") == "0.3")
        #expect(try generalize(.round([5, 100]), "149", level: 2) == "100")
        #expect(try generalize(.round([5]), "") == "")
        #expect(throws: ValueProblem("not a number")) { try generalize(.round([5]), "n/a") }
    }

    @Test func intervalsFromBreakPointsAndTheirCoarserLevels() throws {
        let breaks: GeneralizationSpec.Method = .intervals([1, 2, 3, 5])
        #expect(try generalize(breaks, "0") == "<1")
        #expect(try generalize(breaks, "1") == "[1,2)")
        #expect(try generalize(breaks, "4") == "[3,5)")
        #expect(try generalize(breaks, "5") == ">=5")
        // Level 2 keeps every second break point (and the last): 1, 3, 5.
        #expect(try generalize(breaks, "2", level: 2) == "[1,3)")
        // Level 3: 1, 5.
        #expect(try generalize(breaks, "4", level: 3) == "[1,5)")
        #expect(GeneralizationSpec(method: breaks, level: 1).levelCount == 3)
    }

    @Test func topAndBottomCoding() throws {
        let coding: GeneralizationSpec.Method = .topBottom(bottom: 1, top: 6)
        #expect(try generalize(coding, "9") == ">=6")
        #expect(try generalize(coding, "6") == ">=6")
        #expect(try generalize(coding, "3") == "3")
        #expect(try generalize(coding, "0") == "<=1")
    }

    @Test func timestampsAreTruncatedInTheirOwnFormat() throws {
        let value = "2013-01-03 00:17:42"  // a Thursday
        let expected: [(TimeUnit, String)] = [
            (.minute, "2013-01-03 00:17:00"), (.quarterHour, "2013-01-03 00:15:00"), (.halfHour, "2013-01-03 00:00:00"),
            (.hour, "2013-01-03 00:00:00"), (.day, "2013-01-03 00:00:00"), (.week, "2012-12-31 00:00:00"),
            (.month, "2013-01-01 00:00:00"), (.year, "2013-01-01 00:00:00"),
        ]
        for (unit, result) in expected { #expect(try generalize(.time([unit]), value) == result, "\(unit)") }
        #expect(try generalize(.time([.hour]), "2013-01-01 00:17:00") == "2013-01-01 00:00:00")
        #expect(try generalize(.time([.hour]), "2013-06-30T23:59:59.1234567Z") == "2013-06-30T23:00:00.0000000Z")
        #expect(try generalize(.time([.hour]), "2013-06-30T23:59+02:00") == "2013-06-30T23:00+02:00")
        #expect(try generalize(.time([.month]), "2013/06/30") == "2013/06/01")
        #expect(try generalize(.time([.hour, .day]), "2013-06-30 23:59", level: 2) == "2013-06-30 00:00")
        #expect(throws: ValueProblem("not a date or timestamp in a known layout (YYYY-MM-DD[ HH:MM[:SS]])")) {
            try generalize(.time([.hour]), "30/06/2013")
        }
    }

    @Test func birthDatesBecomeAgesAndBands() throws {
        let reference = CivilDate(year: 2026, month: 6, day: 15)
        #expect(try generalize(.age(reference: reference, bands: [1]), "1990-06-15") == "36")
        #expect(try generalize(.age(reference: reference, bands: [1]), "1990-06-16") == "35")
        #expect(try generalize(.age(reference: reference, bands: [1, 10]), "1990-06-16", level: 2) == "30-39")
        #expect(throws: ValueProblem("the birth date is after the reference date of the age")) {
            try generalize(.age(reference: reference, bands: [1]), "2027-01-01")
        }
    }

    @Test func prefixesAndCoordinates() throws {
        #expect(try generalize(.prefix([4]), "SW1A 2AA") == "SW1A")
        #expect(try generalize(.prefix([3]), "N1 3WY") == "N1")  // "N1 " without its trailing space
        #expect(try generalize(.prefix([4, 2, 0]), "SW1A 2AA", level: 3) == "*")
        #expect(try generalize(.prefix([2]), "Ærø") == "Ær")
        #expect(try generalize(.decimals([2]), "51.50735") == "51.51")
        #expect(try generalize(.decimals([2]), "-0.001") == "0.00")
        // 1000 m cells: 1000 / 111320 degrees of latitude; 51.5074 lies in cell 573, centre 51.5046.
        #expect(try generalize(.grid(metres: [1000], axis: .latitude, latitudeColumn: nil), "51.5074") == "51.504671")
        // Longitude cells widen by 1/cos(latitude centre).
        let longitude = try generalize(
            .grid(metres: [1000], axis: .longitude, latitudeColumn: "lat"), "-0.1278", latitude: "51.5074")
        let width = 1000.0 / 111_320 / cos(51.504671 * .pi / 180)
        #expect(abs(Double(longitude)! - ((-0.1278 / width).rounded(.down) + 0.5) * width) < 1e-6)
    }

    @Test func arxHierarchyLevels() throws {
        let path = try Paths.shared("arx_adult/adult_hierarchy_age.csv")
        let method = GeneralizationSpec.Method.hierarchy(path: path, levels: 4)
        // adult_hierarchy_age.csv: 1;0-4;0-9;0-19;*
        #expect(try generalize(method, "1") == "0-4")
        #expect(try generalize(method, "1", level: 3) == "0-19")
        #expect(try generalize(method, "1", level: 4) == "*")
        #expect(try HierarchyTable(path: path, displayName: "age").levelCount == 4)
        #expect(throws: ValueProblem("the value is not in the hierarchy file adult_hierarchy_age.csv")) {
            try generalize(method, "not an age")
        }
    }

    /// ARX's fars_int age hierarchy lists 99 twice, identically: taken once. A value listed
    /// twice with different levels is an error naming both lines.
    @Test func hierarchyDuplicates() throws {
        let table = try HierarchyTable(
            path: try Paths.shared("arx_benchmark/hierarchies/fars_int_hierarchy_iage.csv"), displayName: "iage")
        #expect(table.generalization(of: Array("99".utf8)[...], level: 1) == Array("[95,99]".utf8))
        let directory = try TemporaryDirectory()
        let path = try directory.write("h.csv", text: "a;x;*\nb;x;*\na;y;*\n")
        #expect(throws: KeyError(message: "h.csv:3: a value is listed twice, with different levels (first on line 1)"))
        {
            try HierarchyTable(path: path, displayName: "h.csv")
        }
    }

    /// The file's shape: a byte-order mark, CRLF line ends, blank lines and no final line end
    /// are accepted; a line without a level or with another number of levels is an error naming
    /// its line (blank lines counted).
    @Test func hierarchyFileShape() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("h.csv", text: "\u{FEFF}a;x;*\r\n\r\nb;;*\nc;z;*")
        let table = try HierarchyTable(path: path, displayName: "h.csv")
        #expect(table.levelCount == 2)
        #expect(table.generalization(of: Array("a".utf8)[...], level: 1) == Array("x".utf8))
        #expect(table.generalization(of: Array("b".utf8)[...], level: 1) == [])
        #expect(table.generalization(of: Array("c".utf8)[...], level: 2) == Array("*".utf8))
        #expect(table.generalization(of: Array("c;z".utf8)[...], level: 1) == nil)
        let short = try directory.write("short.csv", text: "a;x\n\nb\n")
        #expect(throws: KeyError(message: "short.csv:3: record 2 has 1 field; the first record has 2")) {
            try HierarchyTable(path: short, displayName: "short.csv")
        }
        let single = try directory.write("single.csv", text: "a\nb\n")
        #expect(
            throws: KeyError(
                message: "single.csv:1: a hierarchy line needs a value and at least one level, separated by ';'")
        ) {
            try HierarchyTable(path: single, displayName: "single.csv")
        }
        let uneven = try directory.write("uneven.csv", text: "a;x;*\r\nb;x\r\n")
        #expect(throws: KeyError(message: "uneven.csv:2: record 2 has 2 fields; the first record has 3")) {
            try HierarchyTable(path: uneven, displayName: "uneven.csv")
        }
        let stray = try directory.write("stray.csv", text: "a;x\nb\"c;y\n")
        #expect(
            throws: KeyError(
                message:
                    "stray.csv:2: record 2, column 'value': malformed quoting (a quote inside an unquoted field, or text after a closing quote)"
            )
        ) {
            try HierarchyTable(path: stray, displayName: "stray.csv")
        }
    }

    /// ARX hierarchies quote values that hold the delimiter or quotes; they are read as the
    /// data reader reads the same values, so they match. A hierarchy that has no `;` on its
    /// first line is read with the delimiter a data file's header would give.
    @Test func hierarchyValuesMayBeQuoted() throws {
        let directory = try TemporaryDirectory()
        let lines = [
            #""Flat, purpose-built";Flat;*"#, #""Flat ""converted""";Flat;*"#, #""House;detached";House;*"#,
            #"Bungalow;"House, low";*"#,
        ]
        let path = try directory.write("dwelling.csv", text: lines.joined(separator: "\n") + "\n")
        let table = try HierarchyTable(path: path, displayName: "dwelling.csv")
        #expect(table.levelCount == 2)
        #expect(table.generalization(of: Array("Flat, purpose-built".utf8)[...], level: 1) == Array("Flat".utf8))
        #expect(table.generalization(of: Array("Flat \"converted\"".utf8)[...], level: 2) == Array("*".utf8))
        #expect(table.generalization(of: Array("House;detached".utf8)[...], level: 1) == Array("House".utf8))
        #expect(table.generalization(of: Array("Bungalow".utf8)[...], level: 1) == Array("House, low".utf8))
        let commas = try directory.write("commas.csv", text: "a,x,*\nb,y,*\n")
        #expect(
            try HierarchyTable(path: commas, displayName: "commas.csv").generalization(
                of: Array("b".utf8)[...], level: 1) == Array("y".utf8))
    }

    /// Generalization is monotone: a value's coarser level is a function of its finer level.
    @Test func coarserLevelsRefineFinerOnes() throws {
        let methods: [GeneralizationSpec.Method] = [
            .intervals([0, 10, 20, 30, 40, 50, 60, 70, 80]), .time([.hour, .day, .month]),
            .prefix([6, 4, 2]), .round([5, 10, 100]),
        ]
        var random = SeededRandom(seed: 3)
        for method in methods {
            let generalizer = try Generalizer(spec: GeneralizationSpec(method: method, level: 1))
            var coarserOf: [[String]: String] = [:]
            for _ in 0..<2000 {
                let value: String
                switch method {
                case .time:
                    value = String(
                        format: "2013-%02d-%02d %02d:%02d:00", random.integer(in: 1...12), random.integer(in: 1...28),
                        random.integer(in: 0...23), random.integer(in: 0...59))
                case .prefix: value = "AB\(random.integer(in: 1...99)) \(random.integer(in: 1...9))XY"
                default: value = String(random.integer(in: 0...95))
                }
                for level in 1..<generalizer.levelCount {
                    let fine = text(try generalizer.generalize(bytes(value), level: level))
                    let coarse = text(try generalizer.generalize(bytes(value), level: level + 1))
                    if let known = coarserOf[[String(level), fine]] { #expect(known == coarse, "\(method) \(value)") }
                    coarserOf[[String(level), fine]] = coarse
                }
            }
        }
    }

    @Test func seededNoiseIsReproducibleAndHasItsScale() throws {
        let adder = NoiseAdder(spec: NoiseSpec(distribution: .laplace(2), minimum: nil, maximum: nil, decimals: 6))
        var first = NoiseRandom.seeded(42)
        var second = NoiseRandom.seeded(42)
        var other = NoiseRandom.seeded(43)
        let a = try (0..<100).map { _ in try adder.perturb(10, decimals: 0, random: &first) }
        let b = try (0..<100).map { _ in try adder.perturb(10, decimals: 0, random: &second) }
        let c = try (0..<100).map { _ in try adder.perturb(10, decimals: 0, random: &other) }
        #expect(a == b)
        #expect(a != c)
        // Laplace(b): mean 0, mean absolute deviation b. 200k draws: standard errors ~0.006 and ~0.0045.
        var random = NoiseRandom.seeded(7)
        var sum = 0.0
        var absolute = 0.0
        let count = 200_000
        for _ in 0..<count {
            let noise = Double(text(try adder.perturb(0, decimals: 0, random: &random)))!
            sum += noise
            absolute += abs(noise)
        }
        #expect(abs(sum / Double(count)) < 0.03)
        #expect(abs(absolute / Double(count) - 2) < 0.03)
        // The system source works and is not constant.
        var system = NoiseRandom.system()
        let draws = try (0..<10).map { _ in try adder.perturb(0, decimals: 0, random: &system) }
        #expect(Set(draws).count > 1)
    }

    @Test func noiseIsClampedRoundedAndNeedsNumbers() throws {
        let clamped = NoiseAdder(spec: NoiseSpec(distribution: .gaussian(100), minimum: 0, maximum: 1, decimals: 2))
        var random = NoiseRandom.seeded(1)
        for _ in 0..<100 {
            let value = Double(text(try clamped.apply(bytes("0.5"), random: &random)))!
            #expect((0...1).contains(value))
        }
        let keepsDecimals = NoiseAdder(
            spec: NoiseSpec(distribution: .percent(5), minimum: nil, maximum: nil, decimals: nil))
        let noisy = text(try keepsDecimals.apply(bytes("100.000"), random: &random))
        #expect(noisy.split(separator: ".").last?.count == 3)
        #expect((95...105).contains(Double(noisy)!))
        #expect(try keepsDecimals.apply(bytes(""), random: &random) == [])
        #expect(throws: ValueProblem("not a number (noise needs numbers)")) {
            try keepsDecimals.apply(bytes("high"), random: &random)
        }
        // A value near the largest double, noised up, would be written as inf: it is an error.
        let huge = NoiseAdder(spec: NoiseSpec(distribution: .percent(1000), minimum: nil, maximum: nil, decimals: nil))
        var failures = 0
        for _ in 0..<50 {
            do { _ = try huge.apply(bytes("1.7e308"), random: &random) } catch {
                #expect(error == ValueProblem("the value with noise is not a finite number (the value is too large)"))
                failures += 1
            }
        }
        #expect(failures > 10 && failures < 50, "the draws above the largest double fail, the others pass")
    }

    @Test func decimalTextParsesAndFormats() {
        #expect(DecimalText.parse(bytes("0.196"))! == (0.196, 3))
        #expect(DecimalText.parse(bytes("-12"))! == (-12, 0))
        #expect(DecimalText.parse(bytes("1e3"))!.value == 1000)
        #expect(DecimalText.parse(bytes("1.2.3")) == nil)
        #expect(DecimalText.parse(bytes("")) == nil)
        for (field, expected) in [
            ("+3.5", (3.5, 1)), (".5", (0.5, 1)), ("1.", (1.0, 0)), ("-0.000", (0.0, 3)),
            ("2.5E-1", (0.25, 1)), ("123456789012345678901.25", (123456789012345678901.25, 2)),
        ] {
            #expect(DecimalText.parse(bytes(field))! == expected, "\(field)")
        }
        for field in ["-", "+", ".", "1e", "e1", "12a", "1-2", " 1", "0x10", "nan", "inf"] {
            #expect(DecimalText.parse(bytes(field)) == nil, "\(field)")
        }
        // Random decimals parse as the standard library parses them, with their places counted;
        // formatted back with those places, they read the same.
        var generator = SeededRandom(seed: 20)
        for _ in 0..<20_000 {
            let whole = generator.next() % 1_000_000_000
            let fraction = generator.next() % 1_000_000
            let places = Int(generator.next() % 7)
            let digits = String(String(fraction).prefix(places))
            let padded = digits + String(repeating: "0", count: places - digits.count)
            let field = (generator.next() % 2 == 0 ? "-" : "") + "\(whole)" + (places > 0 ? "." + padded : "")
            let parsed = DecimalText.parse(bytes(field))
            #expect(parsed?.value == Double(field) && parsed?.decimals == places, "\(field)")
            if let parsed {
                let written = text(DecimalText.format(parsed.value, decimals: places))
                let writtenPlaces =
                    written.firstIndex(of: ".").map { written.distance(from: $0, to: written.endIndex) - 1 } ?? 0
                #expect(Double(written) == Double(field) && writtenPlaces == places, "\(field) -> \(written)")
            }
        }
        // Formatting against the integer it rounds to, for values of every size it handles.
        for _ in 0..<20_000 {
            let places = Int(generator.next() % 16)
            let magnitude = Double(generator.next() % 1_000_000_000) / Double(1 + generator.next() % 1_000_000)
            let value = generator.next() % 2 == 0 ? -magnitude : magnitude
            let scaled = (value * pow(10, Double(places))).rounded()
            guard abs(scaled) < 9e15 else { continue }
            var integer = String(Int64(abs(scaled)))
            if places > 0 {
                if integer.count <= places {
                    integer = String(repeating: "0", count: places + 1 - integer.count) + integer
                }
                integer.insert(".", at: integer.index(integer.endIndex, offsetBy: -places))
            }
            let expected = (scaled < 0 ? "-" : "") + integer
            #expect(text(DecimalText.format(value, decimals: places)) == expected, "\(value) \(places)")
        }
        #expect(text(DecimalText.format(1.25, decimals: 1)) == "1.3")  // halves round away from zero
        #expect(text(DecimalText.format(-0.0001, decimals: 3)) == "0.000")
        #expect(text(DecimalText.format(0.05, decimals: 3)) == "0.050")
        #expect(text(DecimalText.format(-2.5, decimals: 1)) == "-2.5")
        #expect(text(DecimalText.format(123, decimals: 0)) == "123")
        #expect(text(DecimalText.format(0, decimals: 0)) == "0")
        for (value, expected) in [
            (2.5, "3"), (-2.5, "-3"), (0.5, "1"), (-0.5, "-1"), (-0.4, "0"), (0.49999999999999994, "0"),
            (4_503_599_627_370_497, "4503599627370497"), (8_999_999_999_999_999, "8999999999999999"),
        ] {
            #expect(text(DecimalText.format(value, decimals: 0)) == expected, "\(value)")
        }
        #expect(text(DecimalText.format(-7.25, decimals: 4)) == "-7.2500")
        // Beyond 16 digits the formatter hands over to printf's.
        #expect(text(DecimalText.format(1e20, decimals: 2)) == "100000000000000000000.00")
        // Written straight into a writer's buffer, with the delimiter before it.
        let writer = CSVWriter(delimiter: .semicolon)
        writer.append(decimal: 0.05, places: 3)
        writer.append(decimal: -1234.5, places: 1)
        try? writer.endRecord()
        #expect(text(writer.takeBytes()) == "0.050;-1234.5\n")
    }

    @Test func civilDatesRoundTrip() {
        for days in stride(from: -800_000, to: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(CivilDate(year: 1970, month: 1, day: 1).daysSinceEpoch == 0)
        #expect(CivilDate(year: 2000, month: 3, day: 1).daysSinceEpoch == 11_017)
        #expect(CivilDate(year: 2013, month: 1, day: 3).isoWeekday == 4)
        #expect(CivilDate(iso: "2013-02-29") == nil)
    }
}
