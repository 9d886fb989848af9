import Foundation

// Built by Fuzz/run.sh (`make fuzz`: --sanitize=fuzzer and -sanitize=fuzzer,address, -DDEID_FUZZING),
// this is a libFuzzer target: DEID_FUZZ_TARGET names which one. Built as usual, it replays
// inputs: `deid-fuzz TARGET FILE-OR-DIRECTORY...` runs every file through the target once (the
// seed corpus and every finding kept as a regression input; the test suite runs it).

#if DEID_FUZZING
    private let chosen: FuzzTarget = {
        guard let name = ProcessInfo.processInfo.environment["DEID_FUZZ_TARGET"],
            let target = FuzzTarget(rawValue: name)
        else {
            fatalError("set DEID_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        chosen.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
#else
    @main
    struct Replay {
        static func main() throws {
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
                FileHandle.standardError.write(
                    Data(
                        "usage: deid-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE-OR-DIRECTORY...\n"
                            .utf8))
                exit(2)
            }
            var files: [String] = []
            for path in arguments.dropFirst() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    FileHandle.standardError.write(Data("deid-fuzz: no such file: \(path)\n".utf8))
                    exit(2)
                }
                if isDirectory.boolValue {
                    files += try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
                } else {
                    files.append(path)
                }
            }
            for file in files { target.run(Array(try Data(contentsOf: URL(fileURLWithPath: file)))) }
            print("deid-fuzz \(name): \(files.count) inputs, no finding")
        }
    }
#endif
