// swift-tools-version:6.1
import PackageDescription

// Layers, bottom to top (see Docs/ARCHITECTURE.md):
//   CCSV, CZlib   C system libraries (libcsv, zlib): module maps and shim headers only
//   DeidCSV       unsafe code for CSV: streaming read/write, gzip, atomic output
//   DeidEngine    the streaming engine: block input, the multi-core block loop, codes and tables
//   DeidKit       the domain library: profiling, role suggestion, sample data; no pointers
//   deid          the thin command-line tool, one file per subcommand
let package = Package(
    name: "deid",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "deid", targets: ["deid"]),
        .executable(name: "deid-sample", targets: ["deid-sample"]),
        .library(name: "DeidKit", targets: ["DeidKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CCSV", path: "Sources/CCSV", providers: [.apt(["libcsv-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DeidCSV", dependencies: ["CCSV", "CZlib"]),
        .target(name: "DeidEngine", dependencies: ["DeidCSV", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "DeidKit",
            dependencies: [
                "DeidCSV", "DeidEngine", "Yams", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .executableTarget(
            name: "deid",
            dependencies: ["DeidKit", "DeidCSV", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "deid-sample",
            dependencies: ["DeidKit", "DeidCSV", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The README's library example, built as a client outside this package would build it:
        // without package access, so DeidKit's `package` declarations are out of its reach and it
        // compiles against the public API alone (a test runs it).
        .executableTarget(
            name: "deid-example", dependencies: ["DeidKit"], path: "Examples/publish", packageAccess: false),
        .executableTarget(name: "deid-bench", dependencies: ["DeidCSV"], path: "Benchmarks/deid-bench"),
        // libFuzzer targets (Fuzz/run.sh builds them with --sanitize=fuzzer); built as usual,
        // a replayer of the seed corpus and the findings kept, which the tests run.
        .executableTarget(
            name: "deid-fuzz", dependencies: ["DeidKit", "DeidCSV", "CZlib", "DeidTestSupport"], path: "Fuzz/deid-fuzz"),
        .target(name: "DeidTestSupport", dependencies: ["DeidCSV"], path: "Tests/TestSupport"),
        .testTarget(name: "DeidCSVTests", dependencies: ["DeidCSV", "DeidTestSupport"]),
        .testTarget(name: "DeidEngineTests", dependencies: ["DeidEngine", "DeidCSV", "DeidTestSupport"]),
        .testTarget(
            name: "DeidKitTests", dependencies: ["DeidKit", "DeidEngine", "DeidCSV", "DeidTestSupport", "Yams"]),
        .testTarget(
            name: "CLITests",
            dependencies: ["DeidCSV", "DeidTestSupport", "Yams", "deid", "deid-sample", "deid-fuzz", "deid-example"],
            exclude: ["Golden"]),
    ]
)
