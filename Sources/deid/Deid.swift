import ArgumentParser
import DeidCSV

@main
struct Deid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deid",
        abstract: "De-identify CSV and gzip-compressed CSV files for open-data publishing.",
        discussion: """
            Exit codes: 0 success; 1 a privacy or risk gate refused (or a risk threshold exceeded); 2 bad usage or bad input (nothing written).
            Errors name a position (file:line, record, column), never a cell value.
            """,
        version: "0.3.0",
        subcommands: [
            PublishCommand.self, ApplyCommand.self, RiskCommand.self, LinkCommand.self, CatalogCommand.self,
            ProfileCommand.self, ConvertCommand.self, SplitCommand.self, StatsCommand.self, PlanCommand.self,
        ])

    static func main() { CommandRunner.run(Deid.self) }
}
