import DeidCSV
import Foundation
import GRDB

/// One catalogued release: what later linkage checks need without the old files.
public struct CatalogRelease: Sendable {
    public struct Column: Sendable, Equatable {
        public var name: String
        public var role: String
        public var technique: String?
        public var family: String?
        /// The pseudonym key's fingerprint (never the key).
        public var keyID: String?
        /// Whether the pseudonyms were keyed per release (not linkable across releases).
        public var perRelease: Bool
    }

    public var id: String
    public var name: String
    public var created: String
    public var policyFingerprint: String
    public var purpose: String?
    public var controller: String?
    public var retention: String?
    public var location: String?
    public var dataFile: String
    public var dataSHA256: String
    public var records: Int
    public var individuals: Int
    public var entity: String?
    public var inputs: [InputSummary]
    public var columns: [Column]
    /// The release's class table over its quasi-identifiers: generalized tuple -> individuals.
    public var quasiIdentifiers: [String]
    public var classes: [(tuple: [String], individuals: Int)]
    /// Per published column, a KHyperLogLog of its values with their individuals.
    package var columnSketches: [String: KHyperLogLog]
    /// Per pseudonymized column, a sketch of its pseudonym values.
    package var pseudonymSketches: [String: KHyperLogLog]
    /// Recorded by a publish that had not yet renamed its directory into place (or was killed
    /// before it could say so): settled by the next command that takes the catalog's lock.
    public var isPending = false
    /// What a differentially private release spent of its dataset's budget.
    package var privacySpend: PrivacySpend?

    /// Whether the retention date (its leading YYYY-MM-DD) is before `day`.
    public func isExpired(on day: String) -> Bool {
        guard let retention, retention.count >= 10 else { return false }
        let date = String(retention.prefix(10))
        guard TimestampValue.parse(Array(date.utf8)) != nil else { return false }
        return date < day
    }
}

/// One release's entry in the privacy budget ledger.
package struct PrivacySpend: Sendable, Equatable {
    package var epsilon: Double
    package var delta: Double
    /// The lifetime epsilon the release's policy set for its dataset, if any.
    package var lifetimeEpsilon: Double?
}

/// What a dataset (by name) has spent of its privacy budget: sequential composition, the sum
/// of the epsilons and of the deltas of its releases (pending ones included).
package struct DatasetBudget: Sendable, Equatable, Encodable {
    package var dataset: String
    package var releases: Int
    package var epsilonSpent: Double
    package var deltaSpent: Double
    /// The lifetime epsilon of the dataset's latest release that set one.
    package var lifetimeEpsilon: Double?
    package var epsilonLeft: Double? { lifetimeEpsilon.map { max(0, $0 - epsilonSpent) } }

    enum CodingKeys: String, CodingKey {
        case dataset, releases
        case epsilonSpent = "epsilon_spent"
        case deltaSpent = "delta_spent"
        case lifetimeEpsilon = "lifetime_epsilon"
        case epsilonLeft = "epsilon_left"
    }

    package func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dataset, forKey: .dataset)
        try container.encode(releases, forKey: .releases)
        try container.encode(epsilonSpent, forKey: .epsilonSpent)
        try container.encode(deltaSpent, forKey: .deltaSpent)
        try container.encodeIfPresent(lifetimeEpsilon, forKey: .lifetimeEpsilon)
        try container.encodeIfPresent(epsilonLeft, forKey: .epsilonLeft)
    }
}

/// A catalog that cannot be opened, read or written; names the catalog's path.
public struct CatalogError: ReportedError, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { problems[0].description }
    public var problems: [ReportedProblem] { [ReportedProblem(problem, at: .file(path))] }
}

/// The release catalog: an embedded SQLite database (GRDB) in WAL mode. Every release is
/// recorded in one transaction; concurrent writers wait for each other (busy timeout); the
/// schema is migrated by numbered, recorded migrations.
///
/// A publish holds the catalog's lock (`lock(path:)`, a file beside it) from the linkage check
/// against the catalog to the release's rename, so two publishes cannot both pass a gate that
/// only one of them should. It records the release as pending, renames the directory into
/// place, then marks it published: a run killed between the two leaves a pending entry, which
/// the next command holding the lock settles (published when its directory holds its manifest,
/// removed when not). The catalog never lists a release whose directory was never written, and
/// a written release is never left out.
public final class Catalog: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// The default location: `.deid/catalog.sqlite` in the working directory, unless
    /// `DEID_CATALOG` names another; an explicit path wins over both.
    public static func location(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let named = environment["DEID_CATALOG"], !named.isEmpty { return named }
        return ".deid/catalog.sqlite"
    }

    /// Opens (and with `create`, creates) the catalog at `path`, migrating its schema.
    public init(path: String, create: Bool) throws {
        self.path = path
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && !create {
            throw CatalogError(
                path: path,
                problem:
                    "no catalog here (a `deid publish` creates it; or name one with --catalog-path or DEID_CATALOG)")
        }
        if !exists {
            let directory = PathName.directory(of: path)
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw CatalogError(path: path, problem: "cannot create the directory \(directory)")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        configuration.foreignKeysEnabled = true
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw CatalogError(
                path: path,
                problem: "cannot open the catalog: \(error.message ?? "SQLite error \(error.resultCode.rawValue)")")
        }
    }

    /// The lock beside the catalog at `path` that publishes into it take.
    public static func lock(path: String) throws -> FileLock {
        let directory = PathName.directory(of: path)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw CatalogError(path: path, problem: "cannot create the directory \(directory)")
        }
        do { return try FileLock(path: path + ".lock") } catch let error as CSVError {
            throw CatalogError(path: path, problem: "cannot open its lock file \(path).lock: \(error.message)")
        }
    }

    /// Checks, before anything is written, that a release can be recorded at `path`: an
    /// existing catalog opens (an unreadable one is an error now, not after the release was
    /// written), and a missing one's directory can be made. Returns the catalog, or nil when
    /// there is none yet.
    public static func checkWritable(path: String) throws -> Catalog? {
        if FileManager.default.fileExists(atPath: path) { return try Catalog(path: path, create: false) }
        var ancestor = PathName.directory(of: path)
        while !FileManager.default.fileExists(atPath: ancestor) && ancestor != "/" && ancestor != "." {
            ancestor = PathName.directory(of: ancestor)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory), isDirectory.boolValue,
            FileManager.default.isWritableFile(atPath: ancestor)
        else {
            throw CatalogError(
                path: path, problem: "cannot create the catalog: \(ancestor) is not a writable directory")
        }
        return nil
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1: releases, columns, class tables, sketches") { db in
            try db.execute(
                sql: """
                    CREATE TABLE release (
                      id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, policy_sha256 TEXT NOT NULL,
                      purpose TEXT, controller TEXT, retention TEXT, location TEXT,
                      data_file TEXT NOT NULL, data_sha256 TEXT NOT NULL, records INTEGER NOT NULL, individuals INTEGER NOT NULL,
                      entity TEXT, quasi_identifiers TEXT NOT NULL);
                    CREATE TABLE release_input (
                      release_id TEXT NOT NULL REFERENCES release(id) ON DELETE CASCADE, position INTEGER NOT NULL,
                      name TEXT NOT NULL, sha256 TEXT, records INTEGER NOT NULL, PRIMARY KEY (release_id, position));
                    CREATE TABLE release_column (
                      release_id TEXT NOT NULL REFERENCES release(id) ON DELETE CASCADE, position INTEGER NOT NULL,
                      name TEXT NOT NULL, role TEXT NOT NULL, technique TEXT, family TEXT, key_id TEXT, per_release INTEGER NOT NULL,
                      PRIMARY KEY (release_id, position));
                    CREATE INDEX release_column_key ON release_column(key_id);
                    CREATE TABLE release_class (
                      release_id TEXT NOT NULL REFERENCES release(id) ON DELETE CASCADE,
                      tuple TEXT NOT NULL, individuals INTEGER NOT NULL);
                    CREATE INDEX release_class_release ON release_class(release_id);
                    CREATE TABLE release_sketch (
                      release_id TEXT NOT NULL REFERENCES release(id) ON DELETE CASCADE,
                      column_name TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('column', 'pseudonym')), sketch BLOB NOT NULL,
                      PRIMARY KEY (release_id, column_name, kind));
                    """)
        }
        migrator.registerMigration("2: a release is pending until its directory is in place") { db in
            try db.execute(
                sql:
                    "ALTER TABLE release ADD COLUMN status TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('pending', 'published'))"
            )
        }
        migrator.registerMigration("3: the privacy budget ledger") { db in
            // Not tied to the release row: removing a published release from the catalog does
            // not give its privacy loss back (its data is out). Only a publish that never put
            // its directory in place is refunded (`remove(id:refund:)`).
            try db.execute(
                sql: """
                    CREATE TABLE budget_spend (
                      release_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, created TEXT NOT NULL,
                      epsilon REAL NOT NULL, delta REAL NOT NULL, lifetime_epsilon REAL);
                    CREATE INDEX budget_spend_dataset ON budget_spend(dataset);
                    """)
        }
        return migrator
    }

    /// Every dataset's spending, by name.
    package func budgets() throws -> [DatasetBudget] {
        try wrapped {
            try pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT dataset, COUNT(*) AS releases, SUM(epsilon) AS epsilon, SUM(delta) AS delta,
                          (SELECT lifetime_epsilon FROM budget_spend AS latest WHERE latest.dataset = spend.dataset
                             AND lifetime_epsilon IS NOT NULL ORDER BY created DESC, release_id DESC LIMIT 1) AS lifetime
                        FROM budget_spend AS spend GROUP BY dataset ORDER BY dataset
                        """
                ).map { row in
                    DatasetBudget(
                        dataset: row["dataset"], releases: row["releases"], epsilonSpent: row["epsilon"],
                        deltaSpent: row["delta"], lifetimeEpsilon: row["lifetime"])
                }
            }
        }
    }

    /// What `dataset` has spent so far.
    package func budget(of dataset: String) throws -> DatasetBudget {
        try budgets().first { $0.dataset == dataset }
            ?? DatasetBudget(dataset: dataset, releases: 0, epsilonSpent: 0, deltaSpent: 0, lifetimeEpsilon: nil)
    }

    /// The applied schema migrations, oldest first.
    public func migrations() throws -> [String] {
        try pool.read { try Self.migrator.appliedMigrations($0) }
    }

    /// Records `release` in one transaction (pending when `release.isPending`).
    public func record(_ release: CatalogRelease) throws {
        try wrapped {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO release (id, name, created, policy_sha256, purpose, controller, retention, location, data_file,
                          data_sha256, records, individuals, entity, quasi_identifiers, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                        """,
                    arguments: [
                        release.id, release.name, release.created, release.policyFingerprint, release.purpose,
                        release.controller, release.retention, release.location, release.dataFile, release.dataSHA256,
                        release.records, release.individuals, release.entity, Self.json(release.quasiIdentifiers),
                        release.isPending ? "pending" : "published",
                    ])
                for (position, input) in release.inputs.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO release_input VALUES (?,?,?,?,?)",
                        arguments: [release.id, position, input.name, input.sha256, input.records])
                }
                for (position, column) in release.columns.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO release_column VALUES (?,?,?,?,?,?,?,?)",
                        arguments: [
                            release.id, position, column.name, column.role, column.technique, column.family,
                            column.keyID, column.perRelease,
                        ])
                }
                let insertClass = try db.makeStatement(sql: "INSERT INTO release_class VALUES (?,?,?)")
                for entry in release.classes {
                    try insertClass.execute(arguments: [release.id, Self.json(entry.tuple), entry.individuals])
                }
                if let spend = release.privacySpend {
                    try db.execute(
                        sql: "INSERT INTO budget_spend VALUES (?,?,?,?,?,?)",
                        arguments: [
                            release.id, release.name, release.created, spend.epsilon, spend.delta,
                            spend.lifetimeEpsilon,
                        ])
                }
                for (kind, sketches) in [("column", release.columnSketches), ("pseudonym", release.pseudonymSketches)] {
                    for (column, sketch) in sketches {
                        try db.execute(
                            sql: "INSERT INTO release_sketch VALUES (?,?,?,?)",
                            arguments: [release.id, column, kind, Data(sketch.encoded())])
                    }
                }
            }
        }
    }

    /// Every release, oldest first, without class tables and sketches.
    public func list() throws -> [CatalogRelease] {
        try wrapped {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM release ORDER BY created, id").map {
                    try Self.release($0, db: db, full: false)
                }
            }
        }
    }

    /// One release, complete; nil when no release has that id (or unique id prefix).
    public func release(id: String) throws -> CatalogRelease? {
        try wrapped {
            try pool.read { db in
                let rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM release WHERE id = ? OR id LIKE ? ORDER BY id", arguments: [id, id + "%"])
                if let exact = rows.first(where: { ($0["id"] as String) == id }) {
                    return try Self.release(exact, db: db, full: true)
                }
                guard rows.count == 1 else {
                    if rows.count > 1 {
                        throw CatalogError(
                            path: path, problem: "'\(id)' is the start of \(rows.count) release ids; give more of it")
                    }
                    return nil
                }
                return try Self.release(rows[0], db: db, full: true)
            }
        }
    }

    /// Every release, complete (for linkage checks).
    public func all() throws -> [CatalogRelease] {
        try wrapped {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM release ORDER BY created, id").map {
                    try Self.release($0, db: db, full: true)
                }
            }
        }
    }

    /// Marks a pending release published (its directory is in place).
    public func markPublished(id: String) throws {
        try wrapped {
            try pool.write { db in
                try db.execute(sql: "UPDATE release SET status = 'published' WHERE id = ?", arguments: [id])
            }
        }
    }

    /// Settles the pending releases (the caller holds the catalog's lock, so no publish is
    /// between recording and renaming): published when their directory holds their manifest,
    /// removed otherwise. Returns the ids published and removed.
    @discardableResult
    public func settlePendingReleases() throws -> (published: [String], removed: [String]) {
        let pending = try wrapped {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT id, location FROM release WHERE status = 'pending'")
            }
        }
        var published: [String] = []
        var removed: [String] = []
        for row in pending {
            let id: String = row["id"]
            let location: String? = row["location"]
            if let location, Self.manifestID(in: location) == id {
                try markPublished(id: id)
                published.append(id)
            } else {
                _ = try remove(id: id, refund: true)
                removed.append(id)
            }
        }
        return (published, removed)
    }

    /// Settles pending releases if no publish holds the catalog's lock (a reader does not wait
    /// for one; it then sees them as pending).
    public func settlePendingIfIdle() throws {
        let lock = try Self.lock(path: path)
        guard lock.tryLock() else { return }
        defer { lock.unlock() }
        try settlePendingReleases()
    }

    /// The release id in `directory/manifest.json`, when there is one.
    static func manifestID(in directory: String) -> String? {
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["release_id"] as? String
    }

    /// Removes a release (and everything recorded with it); false when there was none. Its
    /// privacy budget stays spent unless `refund` (a release that was never put in place).
    public func remove(id: String) throws -> Bool { try remove(id: id, refund: false) }

    package func remove(id: String, refund: Bool) throws -> Bool {
        try wrapped {
            try pool.write { db in
                if refund { try db.execute(sql: "DELETE FROM budget_spend WHERE release_id = ?", arguments: [id]) }
                try db.execute(sql: "DELETE FROM release WHERE id = ?", arguments: [id])
                return db.changesCount > 0
            }
        }
    }

    private func wrapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as DatabaseError {
            throw CatalogError(path: path, problem: error.message ?? "SQLite error \(error.resultCode.rawValue)")
        }
    }

    private static func release(_ row: Row, db: Database, full: Bool) throws -> CatalogRelease {
        let id: String = row["id"]
        let inputs = try Row.fetchAll(
            db, sql: "SELECT * FROM release_input WHERE release_id = ? ORDER BY position", arguments: [id]
        ).map {
            InputSummary(name: $0["name"], bytes: nil, sha256: $0["sha256"], records: $0["records"], compressed: false)
        }
        let columns = try Row.fetchAll(
            db, sql: "SELECT * FROM release_column WHERE release_id = ? ORDER BY position", arguments: [id]
        ).map {
            CatalogRelease.Column(
                name: $0["name"], role: $0["role"], technique: $0["technique"], family: $0["family"],
                keyID: $0["key_id"], perRelease: $0["per_release"])
        }
        var classes: [(tuple: [String], individuals: Int)] = []
        var columnSketches: [String: KHyperLogLog] = [:]
        var pseudonymSketches: [String: KHyperLogLog] = [:]
        if full {
            for entry in try Row.fetchAll(
                db, sql: "SELECT tuple, individuals FROM release_class WHERE release_id = ?", arguments: [id])
            {
                classes.append((try decodeJSON(entry["tuple"]), entry["individuals"]))
            }
            for entry in try Row.fetchAll(
                db, sql: "SELECT column_name, kind, sketch FROM release_sketch WHERE release_id = ?", arguments: [id])
            {
                let data: Data = entry["sketch"]
                let sketch = try KHyperLogLog(encoded: Array(data))
                if (entry["kind"] as String) == "pseudonym" {
                    pseudonymSketches[entry["column_name"]] = sketch
                } else {
                    columnSketches[entry["column_name"]] = sketch
                }
            }
        }
        return CatalogRelease(
            id: id, name: row["name"], created: row["created"], policyFingerprint: row["policy_sha256"],
            purpose: row["purpose"], controller: row["controller"], retention: row["retention"],
            location: row["location"], dataFile: row["data_file"], dataSHA256: row["data_sha256"],
            records: row["records"], individuals: row["individuals"], entity: row["entity"], inputs: inputs,
            columns: columns, quasiIdentifiers: try decodeJSON(row["quasi_identifiers"]), classes: classes,
            columnSketches: columnSketches, pseudonymSketches: pseudonymSketches,
            isPending: (row["status"] as String?) == "pending")
    }

    static func json(_ strings: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func decodeJSON(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
