import DeidCSV
import Foundation

/// Generates a realistic raw smart-meter extract: one row per household and half hour, with
/// the household's direct identifiers (customer name, e-mail), quasi-identifiers (UK-style
/// postcode, dwelling type, occupants), tariff, and a kWh reading with a daily and seasonal
/// shape. The same settings give the same bytes on every run and machine.
package struct SmartMeterGenerator: Sendable {
    /// Settings.
    package struct Settings: Sendable, Equatable {
        /// Households, each with its own meter.
        package var households: Int
        /// Days of readings, 48 a day.
        package var days: Int
        /// First day, as days since 1970-01-01.
        package var startDay: Int
        /// The seed: same settings, same bytes.
        package var seed: UInt64
        /// The order of the rows: each household's series in turn (a per-meter extract), or
        /// every meter's reading of one half hour, then the next (a meter-data system's export).
        package var order: Order = .household

        package enum Order: String, Sendable, CaseIterable {
            case household, time
        }

        /// Settings starting on 2013-01-01 unless `startDay` says otherwise.
        package init(
            households: Int, days: Int, startDay: Int = SmartMeterGenerator.day(year: 2013, month: 1, day: 1),
            seed: UInt64
        ) {
            self.households = households
            self.days = days
            self.startDay = startDay
            self.seed = seed
        }
    }

    /// The header the generator writes.
    package static let columns = [
        "meter_id", "customer_name", "email", "postcode", "dwelling_type",
        "occupants", "tariff", "reading_time", "kwh",
    ]

    struct Household {
        var fields: [[UInt8]]  // the seven fixed columns
        var occupants: Int
        var timeOfUse: Bool
        var scale: Double
        var phase: Double
    }

    /// What to generate.
    package let settings: Settings

    /// A generator for `settings`.
    package init(settings: Settings) {
        precondition(settings.households > 0 && settings.households <= 900_000, "1 to 900,000 households")
        precondition(settings.days > 0, "at least one day")
        self.settings = settings
    }

    /// Rows the generator writes (the header excluded).
    package var rowCount: Int { settings.households * settings.days * 48 }

    /// Writes the header and every row.
    package func write(to writer: CSVWriter) throws {
        var random = SeededRandom(seed: settings.seed)
        let households = (0..<settings.households).map { makeHousehold($0, random: &random) }
        try writer.write(fields: SmartMeterGenerator.columns)
        let times: [[UInt8]] = (0..<48).map {
            Array(String(format2(($0 / 2)) + ":" + ($0 % 2 == 0 ? "00" : "30") + ":00").utf8)
        }
        var dates: [[UInt8]] = []
        var seasons: [Double] = []
        for offset in 0..<settings.days {
            let (year, month, day) = SmartMeterGenerator.civil(settings.startDay + offset)
            dates.append(Array("\(year)-\(format2(month))-\(format2(day)) ".utf8))
            let dayOfYear = Double(settings.startDay + offset - SmartMeterGenerator.day(year: year, month: 1, day: 1))
            seasons.append(1 + 0.35 * cos(2 * Double.pi * (dayOfYear - 15) / 365.25))
        }
        var stamp: [UInt8] = []
        var reading: [UInt8] = []
        func writeRow(_ household: Household, day: Int, slot: Int) throws {
            let weekend = (settings.startDay + day + 3) % 7 >= 5  // 1970-01-01 was a Thursday
            for field in household.fields { writer.writeField(field) }
            stamp.removeAll(keepingCapacity: true)
            stamp.append(contentsOf: dates[day])
            stamp.append(contentsOf: times[slot])
            writer.writeField(stamp)
            if random.unit() < 0.0005 {
                writer.writeField(EmptyCollection<UInt8>())  // a missed reading
            } else {
                let kwh = load(household, slot: slot, season: seasons[day], weekend: weekend, random: &random)
                reading.removeAll(keepingCapacity: true)
                SmartMeterGenerator.appendThousandths(Int((kwh * 1000).rounded()), to: &reading)
                writer.writeField(reading)
            }
            try writer.endRecord()
        }
        switch settings.order {
        case .household:
            for household in households {
                for day in 0..<settings.days {
                    for slot in 0..<48 { try writeRow(household, day: day, slot: slot) }
                }
            }
        case .time:
            for day in 0..<settings.days {
                for slot in 0..<48 {
                    for household in households { try writeRow(household, day: day, slot: slot) }
                }
            }
        }
    }

    /// Half-hourly energy in kWh: base load, a morning and an evening peak, more in winter and
    /// at weekends, time-of-use households shifting load into the night, and noise with spikes.
    private func load(
        _ household: Household, slot: Int, season: Double, weekend: Bool,
        random: inout SeededRandom
    ) -> Double {
        let hour = Double(slot) / 2 + household.phase
        func bump(_ center: Double, _ width: Double) -> Double {
            exp(-((hour - center) * (hour - center)) / (2 * width * width))
        }
        var shape = 0.06 + 0.025 * Double(household.occupants)
        shape += 0.18 * bump(7.5, 1.0) * (weekend ? 0.6 : 1)
        shape += (weekend ? 0.12 : 0.04) * bump(13, 2.5)
        shape += 0.32 * bump(19, 1.8) * (household.timeOfUse ? 0.7 : 1)
        if household.timeOfUse && (hour < 5 || hour >= 23.5) { shape += 0.12 }
        var value = shape * season * household.scale * (0.75 + 0.5 * random.unit())
        if random.unit() < 0.02 { value += 0.4 + random.unit() }  // kettle, oven, shower
        return max(value, 0.001)
    }

    private func makeHousehold(_ index: Int, random: inout SeededRandom) -> Household {
        let first = SampleNames.first[random.integer(in: 0...(SampleNames.first.count - 1))]
        let last = SampleNames.last[random.integer(in: 0...(SampleNames.last.count - 1))]
        let meter =
            "MTR-"
            + String(String((index * 104_729 + Int(settings.seed % 1000) * 7919) % 1_000_000 + 1_000_000).dropFirst())
        let emailLocal = (first + "." + last).lowercased().filter { $0.isLetter || $0 == "." }
        let domain = ["example.com", "example.org", "example.net"][random.integer(in: 0...2)]
        let email = "\(emailLocal)\(random.integer(in: 1...99))@\(domain)"
        let area = SampleNames.postcodeAreas[random.integer(in: 0...(SampleNames.postcodeAreas.count - 1))]
        let letters = Array("ABDEFGHJLNPQRSTUWXYZ")
        let postcode =
            "\(area)\(random.integer(in: 1...20)) \(random.integer(in: 1...9))"
            + "\(letters[random.integer(in: 0...(letters.count - 1))])\(letters[random.integer(in: 0...(letters.count - 1))])"
        let dwelling: String = random.pick([
            ("detached", 0.16), ("semi-detached", 0.24), ("terraced", 0.26),
            ("flat, purpose-built", 0.22), ("flat, converted", 0.07), ("bungalow", 0.05),
        ])
        let occupants: Int = random.pick([(1, 0.29), (2, 0.35), (3, 0.16), (4, 0.13), (5, 0.05), (6, 0.02)])
        let timeOfUse = random.unit() < 0.25
        let scale = 0.6 + random.unit() * random.unit() * 1.6
        let phase = (random.unit() - 0.5) * 1.5
        let fields = [meter, "\(first) \(last)", email, postcode, dwelling, "\(occupants)", timeOfUse ? "ToU" : "Std"]
        return Household(
            fields: fields.map { Array($0.utf8) }, occupants: occupants, timeOfUse: timeOfUse,
            scale: scale, phase: phase)
    }

    static func appendThousandths(_ value: Int, to bytes: inout [UInt8]) {
        let whole = value / 1000
        let fraction = value % 1000
        bytes.append(contentsOf: String(whole).utf8)
        bytes.append(0x2E)
        bytes.append(UInt8(0x30 + fraction / 100))
        bytes.append(UInt8(0x30 + fraction / 10 % 10))
        bytes.append(UInt8(0x30 + fraction % 10))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    package static func day(year: Int, month: Int, day: Int) -> Int {
        CivilDate(year: year, month: month, day: day).daysSinceEpoch
    }

    /// The date of a day number (days since 1970-01-01).
    package static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let date = CivilDate(daysSinceEpoch: days)
        return (date.year, date.month, date.day)
    }
}

private func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
