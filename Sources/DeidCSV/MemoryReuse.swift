#if canImport(Glibc)
    import Glibc
#endif

/// The allocator setting for streaming runs: blocks of a few MiB are allocated and freed by
/// the thousand (input blocks, a block's output). glibc gives such blocks back to the kernel
/// when they are freed (each is a mapping of its own, or the heap's top is trimmed), so every
/// new block faulted its pages in again, zeroed: a tenth of the system time of a 1 GB publish.
/// Kept instead (allocations up to 16 MiB from the heap, at most 128 MiB of free heap top kept),
/// freed blocks are reused. Peak memory is unchanged: it is what is in use at once. Larger
/// allocations (a record holding a field of tens of MB, as it grows) stay mappings of their
/// own, given back when freed: from the heap they left holes that a 50 MB field's link paid
/// 40 MB of resident memory for. One arena per core, not glibc's eight: each arena keeps its
/// own free memory, which a wide file's many small allocations spread over all of them (25 MB
/// less at 100,000 columns; the 1 GB publish takes the same time).
public enum MemoryReuse {
    /// Applies the setting to this process (glibc only; elsewhere nothing is done); true when
    /// glibc took it. Call once, before the first large allocation.
    @discardableResult public static func keepFreedBlocks() -> Bool {
        #if canImport(Glibc)
            // mallopt is not in Swift's Glibc module; it is looked up (glibc's ABI: M_TRIM_THRESHOLD
            // is -1, M_MMAP_THRESHOLD -3, M_ARENA_MAX -8).
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            let arenas = Int32(clamping: max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            return mallopt(-3, 16 << 20) == 1 && mallopt(-1, 128 << 20) == 1 && mallopt(-8, arenas) == 1
        #else
            return false
        #endif
    }
}
