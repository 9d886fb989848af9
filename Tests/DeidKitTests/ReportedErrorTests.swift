import DeidCSV
import Foundation
import Testing

@testable import DeidKit

/// Every error the command line reports carries its exit code and its problems with their
/// places (an input position or a policy path), and one text per problem.
@Suite struct ReportedErrorTests {
    @Test func policyErrorsNameTheirPolicyPaths() throws {
        let text = """
            version: 1
            dataset: { name: t }
            columns:
              kwh: { role: sensitive, noise: { laplas: 1 } }
            """
        func load() throws { _ = try PolicyLoader.parse(text: text, file: "p.yaml", directory: ".", header: ["kwh"]) }
        #expect(throws: PolicyError.self) { try load() }
        do { try load() } catch let error as PolicyError {
            let reported: any ReportedError = error
            #expect(reported.exitCode == 2)
            #expect(!reported.isRefusal)
            let problem = try #require(reported.problems.first)
            guard case .policy(let file, let line, _, let path) = problem.location else {
                Issue.record("not a policy place")
                return
            }
            #expect(file == "p.yaml" && line == 4 && path.hasPrefix("columns.kwh.noise"))
            #expect(problem.description.hasPrefix("p.yaml:4:"))
            #expect(problem.description == error.diagnostics[0].description)
        }
    }

    @Test func inputErrorsNameTheirPositionAndNoValue() {
        let error = TransformError(
            position: InputPosition(source: "m.csv", line: 12, record: 11, column: "kwh"), problem: "not a number")
        let reported: any ReportedError = error
        #expect(reported.exitCode == 2)
        #expect(
            reported.problems == [
                ReportedProblem(
                    "record 11, column 'kwh': not a number",
                    at: .input(InputPosition(source: "m.csv", line: 12, record: 11, column: "kwh")))
            ])
        #expect("\(error)" == "m.csv:12: error: record 11, column 'kwh': not a number")
        let csv = CSVError(
            .fieldCountMismatch(found: 3, expected: 4), at: InputPosition(source: "m.csv", line: 5, record: 4))
        #expect((csv as any ReportedError).problems[0].description == "\(csv)")
        // Moved by the lines and records of the blocks before, as the block loop places it.
        let placed = error.shifted(lines: 100, records: 90)
        #expect(placed.position.line == 112 && placed.position.record == 101)
    }

    @Test func refusalsExitWithOne() {
        let gate = PrivacyGateError(
            refusal: PrivacyRefusal(reasons: ["no transformation satisfies k=5", "raise the limit"]))
        let reported: any ReportedError = gate
        #expect(reported.exitCode == 1 && reported.isRefusal)
        #expect(reported.problems.map(\.message) == ["no transformation satisfies k=5", "raise the limit"])
        #expect(reported.problems.allSatisfy { $0.location == nil })
        let catalog = CatalogError(path: "c.sqlite", problem: "is not a catalog")
        #expect((catalog as any ReportedError).problems[0].description == "c.sqlite: is not a catalog")
    }
}
