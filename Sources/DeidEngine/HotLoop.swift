import Crypto

/// Objects called from a hot loop without retaining each one per call: the array holds them
/// (and keeps them alive), and `with` lends one to a closure without a retain and release.
/// Measured on a wide record: a retain and a release per field were a fifth of the time.
public struct UnretainedReferences<Object: AnyObject> {
    @usableFromInline let objects: [Object]
    @usableFromInline let references: [Unmanaged<Object>]

    public init(_ objects: [Object]) {
        self.objects = objects
        references = objects.map { Unmanaged.passUnretained($0) }
    }

    public var count: Int { objects.count }

    /// Calls `body` with object `index`.
    @inlinable @inline(__always)
    public func with<Result>(_ index: Int, _ body: (Object) throws -> Result) rethrows -> Result {
        try references[index]._withUnsafeGuaranteedRef(body)
    }
}

extension SymmetricKey {
    /// The key's bytes (to derive or store it as the domain's own key type).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
