import ArgumentParser
import DeidCSV
import DeidKit

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a command with `deid`'s exit-code contract: 0 success, 1 a privacy gate refused, 2 bad
/// usage or bad input. Errors go to stderr as `deid: FILE:LINE: error: ...`; a closed pipe on
/// stdout ends the run quietly; an interrupt removes temporary output files.
enum CommandRunner {
    static func run<Command: ParsableCommand>(_ type: Command.Type) -> Never {
        signal(SIGPIPE, SIG_IGN)
        // Past a file-size limit (ulimit -f) a write fails with an error, reported as such,
        // instead of the signal killing the run with its temporary files in place.
        signal(SIGXFSZ, SIG_IGN)
        MemoryReuse.keepFreedBlocks()
        TemporaryFiles.onStaleRemoved { path in
            Diagnostics.write("deid: note: removed \(path), left by a run that was killed\n")
        }
        TemporaryFiles.removeAllOnInterrupt { _ in
            if Diagnostics.stderrIsTerminal { Diagnostics.write("\n") }
            Diagnostics.write("deid: interrupted; no output was written\n")
        }
        if let unknown = unknownSubcommand(type, arguments: Array(CommandLine.arguments.dropFirst())) {
            // ArgumentParser shows the root's help for `deid stats --help` and exits 0.
            Diagnostics.error("deid: \(unknown)")
            exit(2)
        }
        do {
            var command = try type.parseAsRoot()
            try command.run()
            exit(0)
        } catch let error as any ReportedError {
            Diagnostics.error(report(error))
            exit(error.exitCode)
        } catch is BrokenPipe {
            exit(0)
        } catch {
            let code = type.exitCode(for: error)
            if code == .success { type.exit(withError: error) }
            if let exitCode = error as? ExitCode { exit(exitCode.rawValue) }
            Diagnostics.error(type.fullMessage(for: error))
            exit(2)
        }
    }
}

/// The first word of `arguments` that stands where a subcommand must be and names none,
/// described with the subcommands there are; nil when every one is known.
func unknownSubcommand(_ root: ParsableCommand.Type, arguments: [String]) -> String? {
    var subcommands = root.configuration.subcommands
    var path = [commandName(root)]
    for argument in arguments {
        guard !subcommands.isEmpty, !argument.hasPrefix("-"), argument != "help" else { return nil }
        var next: ParsableCommand.Type?
        for candidate in subcommands where commandName(candidate) == argument { next = candidate }
        guard let next else {
            let names = subcommands.map(commandName).joined(separator: ", ")
            return "unknown command '\(path.joined(separator: " ")) \(argument)' (commands: \(names))"
        }
        subcommands = next.configuration.subcommands
        path.append(argument)
    }
    return nil
}

/// A command's name as typed.
private func commandName(_ type: ParsableCommand.Type) -> String {
    type.configuration.commandName ?? type._commandName
}

/// The lines that report `error`: one per problem, each `deid: ` and the problem (a refusal's
/// reasons as `deid: refused: `), but not a screenful for a wide file's policy: at most
/// `PolicyError.printedLimit`, then how many more there are.
func report(_ error: any ReportedError) -> String {
    let problems = error.problems
    let shown = problems.prefix(PolicyError.printedLimit).map {
        error.isRefusal ? "deid: refused: \($0)" : "deid: \($0)"
    }
    let more = problems.count - shown.count
    let noun = error is PolicyError ? "problems in the policy" : "problems"
    return (shown + (more > 0 ? ["deid: ... and \(more) more \(noun)"] : [])).joined(separator: "\n")
}

/// A failure the command itself finds (a missing option, a file it cannot use), with exit
/// code 2.
struct CommandFailure: ReportedError {
    var message: String
    var location: ProblemLocation?

    init(message: String, at location: ProblemLocation? = nil) {
        self.message = message
        self.location = location
    }

    var problems: [ReportedProblem] { [ReportedProblem(message, at: location)] }
}

/// Writes messages for people to stderr.
enum Diagnostics {
    static func error(_ message: String) {
        let text =
            message.hasPrefix("deid") || message.hasPrefix("Error:") || message.hasPrefix("Usage:")
            ? message : "deid: \(message)"
        write(text + "\n")
    }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
