/// A growable buffer of trivial values in raw memory: appends without uniqueness checks or
/// reference counting, for the callbacks' hot path.
struct RawBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    func free() { base.deallocate() }

    subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(toHold: extra) }
    }

    /// Makes room for `extra` more elements, keeping the `live` elements written past the end
    /// (at most `extra`) when the storage moves.
    @inline(__always) mutating func reserve(_ extra: Int, keepingPastEnd live: Int) {
        if count &+ extra > capacity { grow(toHold: extra, keepingPastEnd: live) }
    }

    @inline(never) private mutating func grow(toHold extra: Int, keepingPastEnd live: Int = 0) {
        // Doubling, or a quarter more past 16 MiB (a 50 MB field must not cost 128).
        let step = capacity * MemoryLayout<Element>.stride > 16 << 20 ? capacity / 4 : capacity
        // An eighth more than asked for, so the next small append does not grow it again.
        let needed = count + extra
        let newCapacity = max(capacity + step, needed + needed / 8)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count + live)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    /// Appends without a capacity check: the caller reserved room beforehand.
    @inline(__always) mutating func appendReserved(_ value: Element) {
        base[count] = value
        count &+= 1
    }

    @inline(__always) mutating func append(_ value: Element) {
        if count == capacity { reserve(1) }
        base[count] = value
        count += 1
    }

    @inline(__always) mutating func append(_ values: UnsafePointer<Element>, count extra: Int) {
        reserve(extra)
        (base + count).update(from: values, count: extra)
        count += extra
    }

    /// Appends bytes without a capacity check: the caller reserved room beforehand.
    @inline(__always) mutating func appendBytesReserved(_ source: UnsafeRawPointer, count extra: Int)
    where Element == UInt8 {
        copyBytes(to: UnsafeMutableRawPointer(base + count), from: source, count: extra)
        count &+= extra
    }

    /// Appends `extra` bytes by copying 32 from `source` (both sides must have room for 32: the
    /// caller reserved it), without a call or a branch on the length.
    @inline(__always) mutating func appendBytesCopying32(_ source: UnsafeRawPointer, count extra: Int)
    where Element == UInt8 {
        let target = UnsafeMutableRawPointer(base + count)
        target.storeBytes(of: source.loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
        target.storeBytes(
            of: source.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self), toByteOffset: 16,
            as: SIMD16<UInt8>.self)
        count &+= extra
    }

    /// Removes the first `prefix` elements, moving the rest (and `live` elements written past
    /// the end) to the front.
    mutating func removeFirst(_ prefix: Int, keepingPastEnd live: Int = 0) {
        guard prefix > 0 else { return }
        base.update(from: base + prefix, count: count - prefix + live)
        count -= prefix
    }

    mutating func removeAll() { count = 0 }

    /// Gives away the storage with its elements (the caller deallocates it) and starts empty in
    /// new storage of the same capacity, up to `keptCapacity` elements (one huge record must
    /// not make every later buffer huge).
    mutating func handOver(keptCapacity: Int = 8 << 20) -> (base: UnsafeMutablePointer<Element>, count: Int) {
        let taken = (base, count)
        capacity = min(capacity, max(keptCapacity, 16))
        base = .allocate(capacity: capacity)
        count = 0
        return taken
    }

    /// Keeps the first `newCount` elements.
    mutating func truncate(to newCount: Int) { count = min(count, newCount) }

    /// Counts `extra` elements written in place past the end (room reserved before).
    @inline(__always) mutating func advance(by extra: Int) { count &+= extra }
}

/// Copies `count` bytes between ranges that do not overlap. Up to 64 bytes are copied inline with
/// overlapping loads and stores, which stay inside both ranges, instead of a call to memmove
/// (most fields are short, and so are a record's repeated leading fields).
@usableFromInline @inline(__always) func copyBytes(
    to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int
) {
    if count > 64 {
        target.copyMemory(from: source, byteCount: count)
    } else if count > 32 {
        // The first 32 and the last 32 (overlapping), 16 at a time.
        let first = source.loadUnaligned(as: SIMD16<UInt8>.self)
        let second = source.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self)
        let third = source.loadUnaligned(fromByteOffset: count - 32, as: SIMD16<UInt8>.self)
        let fourth = source.loadUnaligned(fromByteOffset: count - 16, as: SIMD16<UInt8>.self)
        target.storeBytes(of: first, as: SIMD16<UInt8>.self)
        target.storeBytes(of: second, toByteOffset: 16, as: SIMD16<UInt8>.self)
        target.storeBytes(of: third, toByteOffset: count - 32, as: SIMD16<UInt8>.self)
        target.storeBytes(of: fourth, toByteOffset: count - 16, as: SIMD16<UInt8>.self)
    } else if count > 16 {
        let first = source.loadUnaligned(as: UInt64.self)
        let second = source.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let third = source.loadUnaligned(fromByteOffset: count - 16, as: UInt64.self)
        let fourth = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        target.storeBytes(of: first, as: UInt64.self)
        target.storeBytes(of: second, toByteOffset: 8, as: UInt64.self)
        target.storeBytes(of: third, toByteOffset: count - 16, as: UInt64.self)
        target.storeBytes(of: fourth, toByteOffset: count - 8, as: UInt64.self)
    } else if count >= 8 {
        let head = source.loadUnaligned(as: UInt64.self)
        let tail = source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        target.storeBytes(of: head, as: UInt64.self)
        target.storeBytes(of: tail, toByteOffset: count - 8, as: UInt64.self)
    } else if count >= 4 {
        let head = source.loadUnaligned(as: UInt32.self)
        let tail = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        target.storeBytes(of: head, as: UInt32.self)
        target.storeBytes(of: tail, toByteOffset: count - 4, as: UInt32.self)
    } else if count > 0 {
        // One, two or three bytes: the first, the middle and the last (some the same).
        let first = source.load(as: UInt8.self)
        let middle = source.load(fromByteOffset: count >> 1, as: UInt8.self)
        let last = source.load(fromByteOffset: count - 1, as: UInt8.self)
        target.storeBytes(of: first, as: UInt8.self)
        target.storeBytes(of: middle, toByteOffset: count >> 1, as: UInt8.self)
        target.storeBytes(of: last, toByteOffset: count - 1, as: UInt8.self)
    }
}
