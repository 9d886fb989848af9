/// A growable buffer of trivial values in raw memory: appends without uniqueness checks or
/// reference counting, for the callbacks' hot path.
struct RawBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

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

    @inline(never) private mutating func grow(toHold extra: Int) {
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
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

    /// Appends bytes without a capacity check: the caller reserved room beforehand. Copies of up
    /// to 16 bytes are done inline with two overlapping loads and stores, which stay inside both
    /// ranges, instead of a call to memmove.
    @inline(__always) mutating func appendBytesReserved(_ source: UnsafeRawPointer, count extra: Int) where Element == UInt8 {
        let target = UnsafeMutableRawPointer(base + count)
        if extra >= 8 && extra <= 16 {
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: extra - 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: extra - 8, as: UInt64.self)
        } else if extra >= 4 && extra < 8 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: extra - 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: extra - 4, as: UInt32.self)
        } else {
            target.copyMemory(from: source, byteCount: extra)
        }
        count &+= extra
    }

    /// Removes the first `prefix` elements, moving the rest to the front.
    mutating func removeFirst(_ prefix: Int) {
        guard prefix > 0 else { return }
        base.update(from: base + prefix, count: count - prefix)
        count -= prefix
    }

    mutating func removeAll() { count = 0 }

    /// Keeps the first `newCount` elements.
    mutating func truncate(to newCount: Int) { count = min(count, newCount) }

    /// Counts `extra` elements written in place past the end (room reserved before).
    @inline(__always) mutating func advance(by extra: Int) { count &+= extra }
}
