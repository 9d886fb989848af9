import DeidCSV
import Foundation

/// The last steps of every publish, record by record or aggregate: the catalog's lock, and the
/// release put in place and recorded.
extension Publisher {
    /// Puts the release in place and records it: recorded as pending, renamed into place, marked
    /// published, so that a run killed between two steps leaves a pending entry the next run
    /// settles by looking at the directory. Returns where it was recorded, and what people
    /// should know (a release left pending).
    static func commit(_ staging: StagingDirectory, recording entry: CatalogRelease?, in catalogPath: String?)
        throws -> (recorded: String?, notes: [String])
    {
        var catalog: Catalog?
        if var entry, let catalogPath {
            entry.isPending = true
            FaultPoint.reach("publish-before-record")
            let opened = try Catalog(path: catalogPath, create: true)
            try opened.record(entry)
            catalog = opened
            FaultPoint.reach("publish-after-record")
        }
        do {
            try staging.commit()
        } catch {
            // Not renamed: the pending entry goes (its budget with it), and the error is the run's.
            if let entry { _ = try? catalog?.remove(id: entry.id, refund: true) }
            throw error
        }
        FaultPoint.reach("publish-after-rename")
        guard let catalog, let catalogPath, let entry else { return (nil, []) }
        do {
            try catalog.markPublished(id: entry.id)
            return (catalogPath, [])
        } catch let error as CatalogError {
            // The release is in place and recorded as pending: the next command that opens
            // this catalog marks it published.
            return (
                catalogPath,
                [
                    "the release is in place but still marked pending in \(catalogPath) (\(error.problem)); "
                        + "the next deid command on this catalog (deid catalog list) confirms it"
                ]
            )
        }
    }

    /// Takes the catalog's lock (waiting for another publish into it) and settles what a killed
    /// run left pending.
    static func lockCatalog(_ lock: FileLock?, path: String?) throws {
        guard let lock, let path else { return }
        try lock.lock()
        if FileManager.default.fileExists(atPath: path) {
            try Catalog(path: path, create: false).settlePendingReleases()
        }
    }
}
