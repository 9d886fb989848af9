/// An open-addressing hash table keyed by 64-bit hashes (tuple and value hashes): one multiply
/// per lookup instead of SipHash (Swift's `Dictionary` spent a fifth of `deid link`'s time
/// there), linear probing, grown at 50% load. Each table scrambles keys with its own random
/// salt, so copying one table into another in slot order cannot pile keys into long runs (with
/// one shared function that made a merge quadratic). Key 0 marks an empty slot; a real key 0 is
/// stored as 1 (one value in 2^64 shares a slot with another).
public struct HashTable64<Value>: Sendable where Value: Sendable {
    /// Key and value side by side: a lookup touches one cache line.
    @usableFromInline struct Entry: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var value: Value

        @inlinable init(key: UInt64, value: Value) {
            self.key = key
            self.value = value
        }
    }
    @usableFromInline var entries: [Entry]
    public var count: Int { storedCount }
    @usableFromInline var storedCount = 0
    @usableFromInline var mask: Int
    @usableFromInline var shift: UInt64
    @usableFromInline let salt = UInt64.random(in: 0...UInt64.max)
    @usableFromInline let empty: Value

    public init(capacity: Int = 16, empty: Value) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        entries = [Entry](repeating: Entry(key: 0, value: empty), count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        self.empty = empty
    }

    @inlinable @inline(__always) static func stored(_ key: UInt64) -> UInt64 { key == 0 ? 1 : key }

    /// The home slot of a (stored) key: the top bits of the salted key times a 64-bit odd constant.
    @inlinable @inline(__always) func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: ((key ^ salt) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot of `key`, inserting it (with the empty value) when absent; `inserted` tells.
    @inlinable @inline(__always) public mutating func slot(_ key: UInt64) -> (index: Int, inserted: Bool) {
        let key = Self.stored(key)
        var index = home(key)
        while true {
            let found = entries[index].key
            if found == key { return (index, false) }
            if found == 0 {
                if (storedCount + 1) * 2 > entries.count {
                    grow()
                    return slot(key)
                }
                entries[index].key = key
                storedCount += 1
                return (index, true)
            }
            index = (index + 1) & mask
        }
    }

    /// The value of `key`, nil when absent.
    @inlinable @inline(__always) public func value(_ key: UInt64) -> Value? {
        let key = Self.stored(key)
        var index = home(key)
        while true {
            let found = entries[index].key
            if found == key { return entries[index].value }
            if found == 0 { return nil }
            index = (index + 1) & mask
        }
    }

    /// The value in slot `index` (from `slot`).
    @inlinable @inline(__always) public func value(at index: Int) -> Value { entries[index].value }

    @inlinable @inline(__always) public mutating func update(at index: Int, _ body: (inout Value) -> Void) {
        body(&entries[index].value)
    }

    @usableFromInline mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(key: 0, value: empty), count: old.count * 2)
        mask = entries.count - 1
        shift = UInt64(64 - entries.count.trailingZeroBitCount)
        storedCount = 0
        for entry in old where entry.key != 0 {
            let (slot, _) = slot(entry.key)
            entries[slot].value = entry.value
        }
    }

    /// Every key and value.
    @inlinable public func forEach(_ body: (UInt64, Value) -> Void) {
        for entry in entries where entry.key != 0 { body(entry.key, entry.value) }
    }

    /// The table with only the entries `keep` accepts.
    public func filtered(_ keep: (UInt64) -> Bool) -> HashTable64 {
        var result = HashTable64(capacity: count, empty: empty)
        for entry in entries where entry.key != 0 && keep(entry.key) {
            let (slot, _) = result.slot(entry.key)
            result.entries[slot].value = entry.value
        }
        return result
    }
}

/// Distinct tuple (or value) hash -> individuals.
public typealias CountTable = HashTable64<Int>

extension HashTable64 where Value == Int {
    public init(capacity: Int = 16) { self.init(capacity: capacity, empty: 0) }

    @inlinable @inline(__always) public mutating func add(_ key: UInt64, _ amount: Int = 1) {
        let (slot, _) = slot(key)
        update(at: slot) { $0 += amount }
    }
}

extension HashTable64 {
    @inlinable @inline(__always) public subscript(key: UInt64) -> Value? { value(key) }
    public var isEmpty: Bool { storedCount == 0 }
}
