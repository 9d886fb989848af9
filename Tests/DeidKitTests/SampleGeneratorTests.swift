import DeidCSV
import DeidKit
import DeidTestSupport
import Testing

@Suite("Sample data generator")
struct SampleGeneratorTests {
    func generate(_ settings: SmartMeterGenerator.Settings, in directory: TemporaryDirectory, name: String) throws
        -> [UInt8]
    {
        let writer = CSVWriter(output: try OutputFile(path: directory.file(name)))
        try SmartMeterGenerator(settings: settings).write(to: writer)
        try writer.finish()
        return try directory.read(name)
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let directory = try TemporaryDirectory()
        let settings = SmartMeterGenerator.Settings(households: 5, days: 3, seed: 9)
        let first = try generate(settings, in: directory, name: "a.csv")
        let second = try generate(settings, in: directory, name: "b.csv")
        var other = settings
        other.seed = 10
        let third = try generate(other, in: directory, name: "c.csv")
        #expect(first == second)
        #expect(first != third)
        #expect(first.filter { $0 == 0x0A }.count == 1 + 5 * 3 * 48)
    }

    /// `--order time` writes the same households over the same half hours as the household
    /// order, every meter's reading of one half hour before the next half hour's, in the same
    /// order of meters each time: a meter-data system's export.
    @Test func timeOrderHoldsTheSameSeriesOrderedByTime() throws {
        let directory = try TemporaryDirectory()
        var settings = SmartMeterGenerator.Settings(households: 4, days: 2, seed: 5)
        let byHousehold = referenceParse(try generate(settings, in: directory, name: "household.csv"))
        settings.order = .time
        let byTime = referenceParse(try generate(settings, in: directory, name: "time.csv"))
        #expect(byTime.count == byHousehold.count && byTime[0] == byHousehold[0])
        let key = { (row: [String]) in row.prefix(8).joined(separator: ",") }
        #expect(Set(byTime.dropFirst().map(key)) == Set(byHousehold.dropFirst().map(key)))
        let meters = Array(
            byHousehold.dropFirst().map { $0[0] }.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } })
        #expect(meters.count == 4)
        for (index, row) in byTime.dropFirst().enumerated() {
            #expect(row[0] == meters[index % 4])
            #expect(row[7] == byTime[1 + index / 4 * 4][7])
        }
        #expect(byTime[1][7] == "2013-01-01 00:00:00" && byTime[5][7] == "2013-01-01 00:30:00")
    }

    @Test func bundledSampleIsReproducible() throws {
        // Datasets/README.md: deid-sample --households 30 --days 28 --seed 42
        let directory = try TemporaryDirectory()
        let bytes = try generate(.init(households: 30, days: 28, seed: 42), in: directory, name: "sample.csv")
        let bundled = try TemporaryDirectory.readFile(Paths.root + "/Datasets/smart_meter_sample.csv")
        #expect(bytes == bundled)
    }

    @Test func readingsHaveADailyAndSeasonalShape() throws {
        let directory = try TemporaryDirectory()
        _ = try generate(.init(households: 20, days: 365, seed: 3), in: directory, name: "year.csv")
        let reader = try CSVReader(source: InputSource(path: directory.file("year.csv")))
        var record = CSVRecord()
        var byHour = [Double](repeating: 0, count: 24)
        var byMonth = [Double](repeating: 0, count: 12)
        while try reader.readRecord(into: &record) {
            guard let kwh = Double(record.string(at: 8)) else { continue }
            let stamp = Array(record.string(at: 7).utf8)
            let hour = Int(stamp[11] - 48) * 10 + Int(stamp[12] - 48)
            let month = Int(stamp[5] - 48) * 10 + Int(stamp[6] - 48)
            byHour[hour] += kwh
            byMonth[month - 1] += kwh
        }
        #expect(reader.recordCount == 20 * 365 * 48)
        #expect(byHour[19] > 1.5 * byHour[3], "evening peak over night: \(byHour)")
        #expect(byHour[8] > byHour[3], "morning over night")
        #expect(byMonth[0] > 1.3 * byMonth[6], "winter over summer: \(byMonth)")
    }

    @Test func calendarConversionsRoundTrip() {
        for day in stride(from: -800_000, through: 800_000, by: 997) {
            let (year, month, dayOfMonth) = SmartMeterGenerator.civil(day)
            #expect(SmartMeterGenerator.day(year: year, month: month, day: dayOfMonth) == day)
        }
        #expect(SmartMeterGenerator.day(year: 2013, month: 1, day: 1) == 15706)
        #expect(SmartMeterGenerator.civil(15706 + 59) == (2013, 3, 1))
    }
}
