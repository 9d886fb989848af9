#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension CSVRecord {
    /// A 64-bit hash of field `index`'s bytes, the same on every run and machine (unlike Swift's
    /// seeded `Hasher`), so that sketches built from it are reproducible and mergeable.
    /// - Complexity: O(length of the field).
    @inlinable public func fieldHash(at index: Int) -> UInt64 {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        return bytes.withUnsafeBytes { raw in
            FieldHash.hash(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
        }
    }

    /// A 64-bit hash of the whole record: its fields' bytes in one pass, and where each ends
    /// (so that fields split differently hash differently). The same on every run and machine.
    /// - Complexity: O(length of the record).
    @inlinable public func recordHash() -> UInt64 {
        let end = fieldEnds.last ?? 0
        var mixed = bytes.withUnsafeBytes { raw in FieldHash.hash(UnsafeRawBufferPointer(rebasing: raw[0..<end])) }
        for fieldEnd in fieldEnds {
            mixed = (mixed ^ UInt64(truncatingIfNeeded: fieldEnd)) &* 0x9E37_79B9_7F4A_7C15
        }
        return mixed ^ (mixed >> 29)
    }

    /// True when field `index` holds exactly the bytes `storage[range]`.
    @inlinable public func field(_ index: Int, equals storage: [UInt8], in range: Range<Int>) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        guard end - start == range.count else { return false }
        return bytes.withUnsafeBytes { raw in
            storage.withUnsafeBytes {
                memcmpEqual(
                    UnsafeRawBufferPointer(rebasing: raw[start..<end]),
                    UnsafeRawBufferPointer(rebasing: $0[range]))
            }
        }
    }

    /// True when field `index` of this record and of `other` hold the same bytes.
    @inlinable public func field(_ index: Int, equalsFieldOf other: CSVRecord) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        let otherStart = index == 0 ? 0 : other.fieldEnds[index - 1]
        let otherEnd = other.fieldEnds[index]
        guard end - start == otherEnd - otherStart else { return false }
        return bytes.withUnsafeBytes { raw in
            other.bytes.withUnsafeBytes {
                memcmpEqual(
                    UnsafeRawBufferPointer(rebasing: raw[start..<end]),
                    UnsafeRawBufferPointer(rebasing: $0[otherStart..<otherEnd]))
            }
        }
    }

    /// True when field `index` holds exactly `other`'s bytes.
    @inlinable public func field(_ index: Int, equals other: ArraySlice<UInt8>) -> Bool {
        let start = index == 0 ? 0 : fieldEnds[index - 1]
        let end = fieldEnds[index]
        guard end - start == other.count else { return false }
        return bytes.withUnsafeBytes { raw in
            other.withUnsafeBytes { memcmpEqual(UnsafeRawBufferPointer(rebasing: raw[start..<end]), $0) }
        }
    }
}

@usableFromInline func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard let left = a.baseAddress, let right = b.baseAddress else { return a.count == 0 }
    return memcmp(left, right, a.count) == 0
}

/// A fast, fixed-seed 64-bit hash of a byte string: 8 bytes at a time, multiply-xorshift
/// mixing, a murmur3 finalizer. Not cryptographic: used for counting, never for pseudonyms.
public enum FieldHash {
    /// Hashes a byte string.
    @inlinable public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: bytes.count)
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            state = (state ^ word) &* 0xFF51_AFD7_ED55_8CCD
            state ^= state >> 32
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            state = (state ^ tail) &* 0xC4CE_B9FE_1A85_EC53
            state ^= state >> 29
        }
        return finalize(state)
    }

    /// Hashes the bytes of a collection (tests and small inputs).
    public static func hash<Bytes: Collection>(bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        Array(bytes).withUnsafeBytes { hash($0) }
    }

    /// Hashes the bytes of an array or a slice of one in place (the same hash as a copy's).
    @inlinable public static func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// murmur3's 64-bit finalizer: every input bit affects every output bit.
    @inlinable public static func finalize(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed ^= mixed >> 33
        mixed = mixed &* 0xFF51_AFD7_ED55_8CCD
        mixed ^= mixed >> 33
        mixed = mixed &* 0xC4CE_B9FE_1A85_EC53
        mixed ^= mixed >> 33
        return mixed
    }
}
