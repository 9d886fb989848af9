#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Named points of a run where the fault tests kill the process (`DEID_FAULT_POINT=NAME` in the
/// environment: the process sends itself SIGKILL when it reaches that point), to check what a
/// crash at exactly that moment leaves behind. Without the variable, a point does nothing.
public enum FaultPoint {
    private static let chosen: String? = {
        guard let value = getenv("DEID_FAULT_POINT") else { return nil }
        return String(cString: value)
    }()

    /// Kills the process here when the environment names `name`.
    public static func reach(_ name: String) {
        if chosen == name { kill(getpid(), SIGKILL) }
    }
}
