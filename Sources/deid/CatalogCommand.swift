import ArgumentParser
import DeidKit
import Foundation

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "List, show and remove the releases `deid publish` recorded.",
        discussion: """
            `deid publish` records every release (unless --no-catalog) in an SQLite catalog: its
            id, dataset, purpose, controller, retention, fingerprints, columns with their techniques
            and key ids, its class table and value sketches. `deid link --catalog` checks new files
            against all of it. The catalog: --catalog-path, else $DEID_CATALOG, else
            .deid/catalog.sqlite in the working directory.

            Examples:
              deid catalog list
              deid catalog show 20261129T101500Z-3f2a
              deid catalog expired --json
              deid catalog remove 20261129T101500Z-3f2a
              deid catalog budget
            """,
        subcommands: [List.self, Show.self, Remove.self, Expired.self, Budget.self])

    struct Budget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each dataset's privacy budget: epsilon spent and left.",
            discussion: """
                Every differentially private release (aggregate.dp) records its epsilon and delta
                against its dataset's name. Spending composes sequentially: a dataset has spent
                the sum of its releases' epsilons (and deltas). Its lifetime epsilon is the one
                its latest policy set (aggregate.budget.lifetime_epsilon); a publish that would
                go past it is refused. Removing a release from the catalog does not give its
                budget back: its data was published.

                Examples:
                  deid catalog budget
                  deid catalog budget --json
                """)
        @OptionGroup var location: CatalogLocation
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let budgets = try location.open()?.budgets() ?? []
            try StandardOutput.write(json ? try CatalogText.json(budgets) : CatalogText.table(budgets))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the releases, oldest first.",
            discussion: """
                One line per release: id, created, dataset, records, retention, and its status
                (pending: its publish was killed or is under way; settled by the next command
                that can take the catalog's lock).

                Examples:
                  deid catalog list
                  deid catalog list --catalog-path /srv/open-data/catalog.sqlite --json
                """)
        @OptionGroup var location: CatalogLocation
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let releases = try location.open()?.list() ?? []
            try StandardOutput.write(json ? try CatalogText.json(releases) : CatalogText.table(releases))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one release (by id, or the start of one).",
            discussion: """
                Everything recorded: dataset, purpose, controller, retention, location,
                fingerprints, every column with its technique and key id (never the key), the
                class table's size and the sketches.

                Examples:
                  deid catalog show 20261129T101500Z-3f2a
                  deid catalog show 20261129 --json
                """)
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The release id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let catalog = try location.open(), let release = try catalog.release(id: id) else {
                throw CommandFailure(message: "no release '\(id)'", at: .file(location.path))
            }
            try StandardOutput.write(json ? try CatalogText.json([release], full: true) : CatalogText.details(release))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a release from the catalog (its files are not touched).",
            discussion: """
                Later linkage checks no longer see the release: remove it only once its files are
                withdrawn from publication. The full id is needed.

                Examples:
                  deid catalog remove 20261129T101500Z-3f2a8c1d
                  deid catalog expired --json | jq -r '.[].id' | xargs -n1 deid catalog remove
                """)
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The release id (in full).") var id: String

        func run() throws {
            guard let catalog = try location.open(), try catalog.remove(id: id) else {
                throw CommandFailure(message: "no release '\(id)' (give the full id)", at: .file(location.path))
            }
            try StandardOutput.write("removed \(id)\n")
        }
    }

    struct Expired: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the releases past their retention date.",
            discussion: """
                A release is expired once the day given (today, UTC, by default) is after its
                policy's dataset.retention date.

                Examples:
                  deid catalog expired
                  deid catalog expired --on 2027-12-31 --json
                """)
        @OptionGroup var location: CatalogLocation
        @Option(help: ArgumentHelp("The day to compare with (default: today, UTC).", valueName: "YYYY-MM-DD")) var on:
            String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let on, on.count != 10 || TimestampValue.parse(Array(on.utf8)) == nil {
                throw ValidationError("--on must be a date YYYY-MM-DD")
            }
        }

        func run() throws {
            let day = on ?? String(Release.timestamp().prefix(10))
            let releases = (try location.open()?.list() ?? []).filter { $0.isExpired(on: day) }
            try StandardOutput.write(json ? try CatalogText.json(releases) : CatalogText.table(releases))
        }
    }
}
