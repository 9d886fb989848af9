import DeidCSV

#if canImport(Glibc)
    import Glibc
#endif

/// Text to standard output, unbuffered by stdio; a closed pipe becomes `BrokenPipe`.
enum StandardOutput {
    static func write(_ text: String) throws {
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { throw BrokenPipe() }
                    throw CommandFailure(
                        message: "cannot write to standard output: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }
}
