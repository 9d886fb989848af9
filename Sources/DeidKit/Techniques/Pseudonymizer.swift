import Crypto
import Foundation

/// Keyed pseudonyms: HMAC-SHA256 of the value's bytes under a secret key, truncated and encoded
/// (lowercase hex or RFC 4648 base32 without padding). The keyed hash state is set up once and
/// copied per value, so a value costs two SHA-256 compressions.
package struct Pseudonymizer: Sendable {
    private let keyed: HMAC<SHA256>
    package let length: Int
    package let encoding: PseudonymizeSpec.Encoding

    package init(key: SecretKey, length: Int, encoding: PseudonymizeSpec.Encoding) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
        self.length = length
        self.encoding = encoding
    }

    /// The pseudonym of `value`.
    package func pseudonym(for value: ArraySlice<UInt8>) -> [UInt8] {
        var mac = keyed
        mac.update(data: value)
        let code = Array(mac.finalize())
        return Pseudonymizer.encode(code, as: encoding, length: length)
    }

    /// The 64 bits of HMAC(key, value) as a number (date shifts).
    package func number(for value: ArraySlice<UInt8>) -> UInt64 {
        var mac = keyed
        mac.update(data: value)
        return Array(mac.finalize()).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)
    static let base32Digits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static func encode(_ bytes: [UInt8], as encoding: PseudonymizeSpec.Encoding, length: Int) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(length)
        switch encoding {
        case .hex:
            for byte in bytes where output.count < length {
                output.append(hexDigits[Int(byte >> 4)])
                if output.count < length { output.append(hexDigits[Int(byte & 15)]) }
            }
        case .base32:
            var buffer = 0
            var bits = 0
            for byte in bytes where output.count < length {
                buffer = buffer << 8 | Int(byte)
                bits += 8
                while bits >= 5 && output.count < length {
                    output.append(base32Digits[(buffer >> (bits - 5)) & 31])
                    bits -= 5
                }
            }
        }
        return output
    }
}

/// Pseudonyms whose key changes every period (day, week from Monday, or month) of a time
/// column: one entity's pseudonym is the same within a period and unrelated across periods, so
/// a published series cannot be followed from one period to the next. The key of a period is
/// derived from the column's key with HKDF (`SecretKey.derived(forPeriod:purpose:)`), the period
/// named by its first day (`2013-01-07`).
package struct RotatingPseudonyms: Sendable {
    let key: SecretKey
    let length: Int
    let encoding: PseudonymizeSpec.Encoding
    let every: TimeUnit
    /// What the keys are derived for (the column), so two columns' keys differ.
    let purpose: String

    package init(key: SecretKey, length: Int, encoding: PseudonymizeSpec.Encoding, every: TimeUnit, purpose: String) {
        self.key = key
        self.length = length
        self.encoding = encoding
        self.every = every
        self.purpose = purpose
    }

    /// The first day of the period of `time`, in days since 1970.
    func period(of time: TimestampValue) -> Int { time.truncated(to: every).date.daysSinceEpoch }

    /// The pseudonymizer of the period starting on day `period`.
    func pseudonymizer(forPeriod period: Int) -> Pseudonymizer {
        let label = CivilDate(daysSinceEpoch: period).description
        return Pseudonymizer(key: key.derived(forPeriod: label, purpose: purpose), length: length, encoding: encoding)
    }
}

/// One worker's state for a rotating pseudonym column: the pseudonymizer of each period met (a
/// key derivation costs two HKDF rounds), and the last value's pseudonym (a household's
/// readings of one period come one after the other).
package final class RotationState {
    let rotation: RotatingPseudonyms
    private var pseudonymizers: [Int: Pseudonymizer] = [:]
    private var lastPeriod = Int.min
    private var lastValue: [UInt8] = []
    private var lastPseudonym: [UInt8] = []

    package init(_ rotation: RotatingPseudonyms) { self.rotation = rotation }

    /// The pseudonym of `value` at `time`.
    package func pseudonym(for value: ArraySlice<UInt8>, at time: TimestampValue) -> [UInt8] {
        let period = rotation.period(of: time)
        if period == lastPeriod && value.elementsEqual(lastValue) { return lastPseudonym }
        // Periods met are few (a day's key for each day of the data); bounded all the same.
        if pseudonymizers.count >= 4096 && pseudonymizers[period] == nil { pseudonymizers.removeAll() }
        let pseudonymizer =
            pseudonymizers[period]
            ?? {
                let made = rotation.pseudonymizer(forPeriod: period)
                pseudonymizers[period] = made
                return made
            }()
        lastPeriod = period
        lastValue = Array(value)
        lastPseudonym = pseudonymizer.pseudonym(for: value)
        return lastPseudonym
    }
}

/// A consistent random date shift per entity: the shift is derived from a keyed hash of the
/// entity value (domain-separated from pseudonyms), uniform in ±maxDays, so all of one entity's
/// dates move together and intervals are kept.
package struct DateShifter: Sendable {
    private let hasher: Pseudonymizer
    package let maxDays: Int

    package init(key: SecretKey, maxDays: Int) {
        hasher = Pseudonymizer(key: key, length: 16, encoding: .hex)
        self.maxDays = maxDays
    }

    /// What the entity's value is prefixed with before hashing: without it the shift would be
    /// HMAC(key, entity), the very bytes of a pseudonym under the same key, and anyone holding
    /// a published pseudonym could compute the shift and undo it.
    static let domain = Array("deid date shift\u{0}".utf8)

    /// The shift in days for the entity `entity`: HMAC(key, "deid date shift" NUL entity), its
    /// first 8 bytes as a big-endian number, modulo 2 maxDays + 1, minus maxDays.
    package func days(for entity: ArraySlice<UInt8>) -> Int {
        let span = UInt64(2 * maxDays + 1)
        return Int(hasher.number(for: (DateShifter.domain + entity)[...]) % span) - maxDays
    }
}
