import DeidTestSupport
import Foundation
import Testing

/// Every input of the fuzz targets' seed corpus, and every finding kept there once fixed
/// (`Fuzz/corpus/TARGET/regression-*`), replayed through its target in the usual build: the
/// targets' checks (fast path against slow twin) hold on all of them. `make fuzz` searches for
/// more (Docs/SECURITY.md).
@Suite("Fuzz corpus replayed")
struct FuzzCorpusTests {
    @Test(arguments: ["csv", "gzip", "policy", "hierarchy", "spool"])
    func corpusReplaysWithoutAFinding(_ target: String) throws {
        let corpus = Paths.root + "/Fuzz/corpus/" + target
        let inputs = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(inputs.count >= 4, "a seed corpus for \(target)")
        let result = try CLI.run([target, corpus], in: Paths.root, executable: CLI.binDirectory + "/deid-fuzz")
        #expect(result.status == 0, "\(result.stderr.prefix(2000))")
        #expect(result.stdout == "deid-fuzz \(target): \(inputs.count) inputs, no finding\n")
    }

    /// The findings fixed so far stay in the corpus as regression inputs.
    @Test func findingsAreKept() throws {
        let kept = try FileManager.default.contentsOfDirectory(atPath: Paths.root + "/Fuzz/corpus/csv").filter {
            $0.hasPrefix("regression-")
        }
        #expect(kept.count >= 5)
    }
}
