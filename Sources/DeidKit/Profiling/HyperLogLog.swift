import Foundation

/// A HyperLogLog sketch (Flajolet et al. 2007) of distinct 64-bit hashes, with the small-range
/// (linear counting) correction. Precision 14: 16,384 one-byte registers, about 0.8% standard
/// error. Two sketches of the same precision merge by taking register maxima.
package struct HyperLogLog: Sendable, Equatable {
    /// log2 of the number of registers.
    package let precision: Int
    private var registers: [UInt8]

    /// An empty sketch with 2^`precision` registers.
    package init(precision: Int = 14) {
        precondition((4...18).contains(precision), "precision must be 4...18")
        self.precision = precision
        registers = [UInt8](repeating: 0, count: 1 << precision)
    }

    /// A sketch from stored registers (`registerBytes` of one of the same precision).
    init(precision: Int, registers: [UInt8]) {
        precondition(registers.count == 1 << precision, "register count does not match the precision")
        self.precision = precision
        self.registers = registers
    }

    /// The registers, for storage.
    var registerBytes: [UInt8] { registers }

    /// Adds one hashed value.
    @inlinable package mutating func insert(hash: UInt64) {
        let index = Int(hash >> UInt64(64 - precision))
        let rest = (hash << UInt64(precision)) | (1 << UInt64(precision - 1))
        let rank = UInt8(rest.leadingZeroBitCount + 1)
        update(index, rank)
    }

    @usableFromInline mutating func update(_ index: Int, _ rank: UInt8) {
        if registers[index] < rank { registers[index] = rank }
    }

    /// Takes in every value of `other`.
    package mutating func merge(_ other: HyperLogLog) {
        precondition(other.precision == precision, "merging sketches of different precision")
        for index in registers.indices where other.registers[index] > registers[index] {
            registers[index] = other.registers[index]
        }
    }

    /// The estimated number of distinct values.
    package var estimate: Double {
        let count = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for register in registers {
            sum += 1.0 / Double(UInt64(1) << UInt64(register))
            if register == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / count)
        let raw = alpha * count * count / sum
        if raw <= 2.5 * count, zeros > 0 {
            return count * log(count / Double(zeros))
        }
        return raw
    }
}
