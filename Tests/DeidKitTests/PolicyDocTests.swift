import DeidKit
import DeidTestSupport
import Foundation
import Testing

/// Docs that run: every ```yaml block in Docs/POLICY.md is a complete policy that loads against
/// the header named in its first line (`# header: a,b,c`).
@Suite struct PolicyDocTests {
    static func examples() throws -> [(header: [String], text: String)] {
        let text = String(decoding: try TemporaryDirectory.readFile(Paths.root + "/Docs/POLICY.md"), as: UTF8.self)
        return text.components(separatedBy: "```yaml\n").dropFirst().map { block in
            let body = block.components(separatedBy: "```")[0]
            let first = body.split(separator: "\n")[0]
            let header = first.hasPrefix("# header: ") ? first.dropFirst(10).split(separator: ",").map(String.init) : []
            return (header, body)
        }
    }

    @Test func everyExampleLoads() throws {
        let examples = try Self.examples()
        #expect(examples.count == 11)
        let environment = [
            "DEID_KEY": String(repeating: "k", count: 32), "METER_KEY": String(repeating: "m", count: 32),
        ]
        for (index, example) in examples.enumerated() {
            #expect(!example.header.isEmpty, "example \(index + 1) names its header")
            do {
                let policy = try PolicyLoader.parse(
                    text: example.text, file: "POLICY.md example \(index + 1)", directory: Paths.root + "/Docs",
                    header: example.header, environment: environment)
                #expect(policy.columns.count == example.header.count)
                _ = try TransformPlan(
                    policy: policy, header: example.header, releaseID: "doc", seed: 1, environment: environment)
            } catch {
                Issue.record("POLICY.md example \(index + 1): \(error)")
            }
        }
    }
}
