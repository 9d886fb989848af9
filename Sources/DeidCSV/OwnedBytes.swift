/// Bytes in memory of their own, handed from one thread to another without a copy (a memory
/// writer's finished block, a chunk of privacy pass 2's output); freed with the last reference.
/// Whoever holds it may change the bytes in place (one holder at a time, by convention).
public final class OwnedBytes: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    /// Takes over `base` (allocated with `allocate`, with room for at least `count` bytes; it
    /// is deallocated here).
    public init(taking base: UnsafeMutableRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    /// No bytes.
    public convenience init() {
        self.init(taking: .allocate(byteCount: 1, alignment: 16), count: 0)
    }

    /// A copy of `bytes`.
    public convenience init(copying bytes: [UInt8]) {
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        self.init(taking: base, count: bytes.count)
    }

    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    public func withUnsafeMutableBytes<Result>(_ body: (UnsafeMutableRawBufferPointer) throws -> Result) rethrows
        -> Result
    {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// A copy as an array (for tests and small outputs).
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    deinit { base.deallocate() }
}
