import DeidCSV

#if canImport(Glibc)
    import Glibc
#endif

/// A progress line on stderr, shown only when stderr is a terminal, at most ten times a second.
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private var lastDraw = 0.0
    private let start: Double
    private var drawn = false

    init(label: String, enabled: Bool = Diagnostics.stderrIsTerminal) {
        self.label = label
        self.enabled = enabled
        start = ProgressBar.now()
    }

    /// Redraws the line: the share of the file consumed (when its size is known), the CSV
    /// megabytes read and their rate.
    func update(_ progress: InputProgress) {
        guard enabled else { return }
        let now = ProgressBar.now()
        guard now - lastDraw >= 0.1 else { return }
        lastDraw = now
        let megabytes = Double(progress.decoded) / 1e6
        let rate = megabytes / max(now - start, 1e-3)
        var line = "\r\(label)"
        if let fraction = progress.fraction {
            let filled = Int(fraction * 30)
            line += " [" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "]"
            line += " \(Int(fraction * 100))%"
        }
        if let phase = progress.phase {
            line += " \(phase)   "
        } else {
            line += " \(Int(megabytes)) MB read, \(Int(rate)) MB/s   "
        }
        Diagnostics.write(line)
        drawn = true
    }

    func finish() {
        guard drawn else { return }
        Diagnostics.write("\r\u{1B}[K")
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
