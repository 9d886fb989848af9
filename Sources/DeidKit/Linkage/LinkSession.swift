import DeidCSV
import DeidEngine
import Foundation

/// What a linkage check compares and how.
public struct LinkOptions: Sendable {
    /// Entity column names: each file uses the first of these it has.
    public var entities: [String] = []
    /// Join only on these shared columns (by either side's name); nil: every shared
    /// quasi-identifier.
    public var joinColumns: [String]?
    /// Exact counts of the full join (a table of every distinct join value); false: sketches only.
    public var exact = true
    public var sketchCapacity = LinkRequest.defaultSketchCapacity
    public var maxUniqueLinkShare: Double?
    /// Catalogued releases to check every file against.
    public var catalog: [CatalogRelease] = []
    /// Rank the combinations of join columns (a sketch per subset; about 40% of the time of a
    /// sketched check on four join columns). Without, only the full join is measured.
    public var rankCombinations = true
    /// Only pairs that involve the first file (a publish candidate against the rest).
    public var firstFileOnly = false
    /// The first file's pseudonym keys (a publish candidate): column -> key id, for non-per-release keys.
    public var firstFileKeys: [String: String] = [:]
    /// Columns of the first file to sketch one by one (for the catalog record).
    public var sketchFirstFileColumns = false
    /// The first file's name in the report (a publish candidate's data file, not its staging path).
    public var firstFileName: String?
    public var workers = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// What a check produced: the report, and the first file's scan (its column sketches, for the
/// catalog record).
public struct LinkOutcome: Sendable {
    public var report: LinkReport
    package var firstSide: LinkSide?
    package var firstSample: LinkSample?
    /// The names of the first file's value-sketched columns, in `firstSide.pseudonyms`' order
    /// (pseudonyms, identifiers and the entity).
    public var firstPseudonymColumns: [String] = []
}

/// `deid link`: samples every file's first block to find the columns each pair shares, reads
/// every file once (all its joins in the same pass), and measures every pair in both
/// directions, every file against every catalogued release, and the pseudonyms they share.
public enum LinkSession {
    /// Links the CSV files at `paths` (each is sampled, then read in full: named files, not
    /// standard input), and the catalog's releases in `options`.
    public static func run(
        paths: [String], readOptions: CSVReadOptions = CSVReadOptions(), options: LinkOptions,
        progress: ((Int, InputProgress) -> Void)? = nil
    ) throws -> LinkOutcome {
        try run(
            inputs: paths.map { try BlockInput(path: $0, options: readOptions) }, options: options, progress: progress)
    }

    package static func run(
        inputs: [BlockInput], options: LinkOptions,
        progress: ((Int, InputProgress) -> Void)? = nil
    ) throws -> LinkOutcome {
        // A join column no file has is a mistake (a typo would otherwise pass a gate unseen).
        for name in options.joinColumns ?? []
        where !inputs.contains(where: { $0.header.index(of: name) != nil })
            && !options.catalog.contains(where: { $0.quasiIdentifiers.contains(name) })
        {
            let known = Array(Set(inputs.flatMap(\.header.names))).sorted()
            throw TransformError(
                position: InputPosition(source: inputs.first?.source.displayName ?? "<inputs>", line: 1),
                problem:
                    "--columns names '\(name)', a column of none of the files\(Suggestion.phrase(for: name, among: known))"
            )
        }
        let samples = try inputs.map { try LinkSample(input: $0) }
        let entityNames = Set(options.entities)
        let entityColumns = inputs.map { input in options.entities.lazy.compactMap(input.header.index(of:)).first }
        var requests = inputs.indices.map { index -> LinkRequest in
            var request = LinkRequest()
            request.entity = entityColumns[index]
            request.sketchCapacity = options.sketchCapacity
            request.pseudonymColumns = valueColumns(samples[index], entity: entityColumns[index])
            if options.sketchFirstFileColumns && index == 0 { request.sketchColumns(samples[index].columns.count) }
            return request
        }

        // Pairs of files: which joins each file computes.
        struct FilePair {
            var left: Int
            var right: Int
            var shared: [SharedColumn]
            var leftJoin: Int?
            var rightJoin: Int?
        }
        var filePairs: [FilePair] = []
        for left in inputs.indices {
            for right in inputs.indices where right > left && (!options.firstFileOnly || left == 0) {
                var pair = FilePair(
                    left: left, right: right,
                    shared: restrict(
                        LinkMatcher.shared(samples[left], samples[right], entities: entityNames),
                        to: options.joinColumns))
                let joins = pair.shared.filter(\.joins)
                if !joins.isEmpty {
                    let subsets = options.rankCombinations ? rankingSubsets(joins.count) : [Array(joins.indices)]
                    pair.leftJoin = requests[left].joins.count
                    requests[left].joins.append(
                        LinkJoin(
                            columns: joins.map(\.left), normalizers: joins.map(\.normalizer), subsets: subsets,
                            exact: options.exact,
                            distinctEstimates: joins.map { samples[left].columns[$0.left].distinctEstimate }))
                    pair.rightJoin = requests[right].joins.count
                    requests[right].joins.append(
                        LinkJoin(
                            columns: joins.map(\.right), normalizers: joins.map(\.normalizer), subsets: subsets,
                            exact: options.exact,
                            distinctEstimates: joins.map { samples[right].columns[$0.right].distinctEstimate }))
                }
                filePairs.append(pair)
            }
        }
        // Every file against every release: the release's quasi-identifiers, from its class table.
        struct ReleasePair {
            var file: Int
            var release: Int
            var sample: LinkSample
            var shared: [SharedColumn]
            var join: Int?
        }
        var releasePairs: [ReleasePair] = []
        for (releaseIndex, release) in options.catalog.enumerated() {
            let sample = LinkSample(
                name: release.name, columnNames: release.quasiIdentifiers, tuples: release.classes.map(\.tuple))
            for file in inputs.indices where !options.firstFileOnly || file == 0 {
                var pair = ReleasePair(
                    file: file, release: releaseIndex, sample: sample,
                    shared: restrict(
                        LinkMatcher.shared(samples[file], sample, entities: entityNames), to: options.joinColumns))
                let joins = pair.shared.filter(\.joins)
                if !joins.isEmpty {
                    pair.join = requests[file].joins.count
                    requests[file].joins.append(
                        LinkJoin(
                            columns: joins.map(\.left), normalizers: joins.map(\.normalizer),
                            subsets: options.rankCombinations ? rankingSubsets(joins.count) : [Array(joins.indices)],
                            exact: options.exact,
                            distinctEstimates: joins.map { samples[file].columns[$0.left].distinctEstimate }))
                }
                releasePairs.append(pair)
            }
        }

        var sides: [LinkSide] = []
        for (index, input) in inputs.enumerated() {
            sides.append(
                try LinkScan.run(
                    input: input, request: requests[index], workers: options.workers,
                    progress: progress.map { report in { report(index, $0) } }))
        }
        if let name = options.firstFileName, !sides.isEmpty { sides[0].name = name }
        // A file whose bytes are a catalogued release's data (checking a release already
        // published) is not linked to that release: it would single out everyone in it.
        let sameData = try sameDataReleases(
            inputs: inputs, sides: sides, catalog: options.catalog,
            files: inputs.indices.filter { !options.firstFileOnly || $0 == 0 })
        releasePairs.removeAll { pair in sameData.contains { $0.file == pair.file && $0.release == pair.release } }

        var files = inputs.indices.map { index in
            LinkedFile(
                name: sides[index].name, kind: "file", records: sides[index].records,
                individuals: sides[index].individuals,
                entity: entityColumns[index].map { inputs[index].header.names[$0] }, releaseID: nil)
        }
        for release in options.catalog {
            files.append(
                LinkedFile(
                    name: release.name, kind: "release", records: release.records, individuals: release.individuals,
                    entity: release.entity, releaseID: release.id))
        }
        var pairs: [LinkPair] = []
        for pair in filePairs {
            let reports = pair.shared.map {
                SharedColumnReport(
                    left: $0.leftName, right: $0.rightName, comparison: $0.normalizer.description, reason: $0.reason,
                    joins: $0.joins)
            }
            let mirrored = pair.shared.map {
                SharedColumnReport(
                    left: $0.rightName, right: $0.leftName, comparison: $0.normalizer.description, reason: $0.reason,
                    joins: $0.joins)
            }
            let joins = pair.shared.filter(\.joins)
            for (from, to, columns, fromJoin, toJoin) in [
                (pair.left, pair.right, reports, pair.leftJoin, pair.rightJoin),
                (pair.right, pair.left, mirrored, pair.rightJoin, pair.leftJoin),
            ] {
                let names = from == pair.left ? joins.map(\.leftName) : joins.map(\.rightName)
                let measures: LinkMeasures
                var combinations: [LinkCombination] = []
                if let fromJoin, let toJoin {
                    let subsets = requests[from].joins[fromJoin].subsets
                    combinations =
                        !options.rankCombinations || joins.count > maxRankedJoinColumns
                        ? []
                        : subsets.indices.map { subset in
                            let estimate = LinkMeasure.sketched(
                                left: sides[from].sketches[fromJoin][subset], leftIndividuals: sides[from].individuals,
                                joinableShare: joinableShare(sides[from], fromJoin, subset),
                                recordsAreIndividuals: !sides[from].hasEntity,
                                right: RightCounts(sketch: sides[to].sketches[toJoin][subset]))
                            return LinkCombination(
                                columns: subsets[subset].map { names[$0] }, uniqueLinks: estimate.uniqueLinks,
                                uniqueLinkShare: estimate.uniqueLinkShare)
                        }
                    if let table = sides[from].tables[fromJoin], let other = sides[to].tables[toJoin] {
                        measures = LinkMeasure.exact(
                            left: table, leftIndividuals: sides[from].individuals, right: RightCounts(table: other))
                    } else {
                        let full = subsets.count - 1
                        measures = LinkMeasure.sketched(
                            left: sides[from].sketches[fromJoin][full], leftIndividuals: sides[from].individuals,
                            joinableShare: joinableShare(sides[from], fromJoin, full),
                            recordsAreIndividuals: !sides[from].hasEntity,
                            right: RightCounts(sketch: sides[to].sketches[toJoin][full]))
                    }
                } else {
                    measures = LinkMeasures(
                        leftRecords: sides[from].individuals, uniqueLinks: 0, uniqueLinkShare: 0, alsoUniqueInLeft: 0,
                        joinedMinClassSize: nil, joinability: 0, method: options.exact ? "exact" : "sketch")
                }
                let identifiers = samples[to].columns.filter { $0.role == .identifier && $0.namesIndividuals }.map(
                    \.name)
                pairs.append(
                    LinkPair(
                        left: sides[from].name, right: sides[to].name, columns: columns, measures: measures,
                        rightIdentifiers: identifiers, combinations: ranked(combinations),
                        suggestion: suggestion(combinations, joins: joins, names: names, total: measures.uniqueLinks)))
            }
        }
        for pair in releasePairs {
            let release = options.catalog[pair.release]
            let side = sides[pair.file]
            let joins = pair.shared.filter(\.joins)
            let names = joins.map(\.leftName)
            let columns = pair.shared.map {
                SharedColumnReport(
                    left: $0.leftName, right: $0.rightName, comparison: $0.normalizer.description, reason: $0.reason,
                    joins: $0.joins)
            }
            var measures = LinkMeasures(
                leftRecords: side.individuals, uniqueLinks: 0, uniqueLinkShare: 0, alsoUniqueInLeft: 0,
                joinedMinClassSize: nil, joinability: 0, method: options.exact ? "exact" : "sketch")
            var reverse: LinkMeasures?
            var combinations: [LinkCombination] = []
            if let join = pair.join {
                let subsets = requests[pair.file].joins[join].subsets
                let positions = joins.map { $0.right }
                combinations =
                    !options.rankCombinations || joins.count > maxRankedJoinColumns
                    ? []
                    : subsets.indices.map { subset in
                        let projected = project(
                            release, columns: subsets[subset].map { positions[$0] }, joinPositions: subsets[subset],
                            normalizers: subsets[subset].map { joins[$0].normalizer })
                        let estimate = LinkMeasure.sketched(
                            left: side.sketches[join][subset], leftIndividuals: side.individuals,
                            joinableShare: joinableShare(side, join, subset), recordsAreIndividuals: !side.hasEntity,
                            right: RightCounts(counts: projected))
                        return LinkCombination(
                            columns: subsets[subset].map { names[$0] }, uniqueLinks: estimate.uniqueLinks,
                            uniqueLinkShare: estimate.uniqueLinkShare)
                    }
                let full = project(
                    release, columns: positions, joinPositions: Array(joins.indices),
                    normalizers: joins.map(\.normalizer))
                if let table = side.tables[join] {
                    measures = LinkMeasure.exact(
                        left: table, leftIndividuals: side.individuals, right: RightCounts(counts: full))
                    var releaseTable = TupleTable()
                    releaseTable.counts = full
                    reverse = LinkMeasure.exact(
                        left: releaseTable, leftIndividuals: release.individuals, right: RightCounts(table: table))
                } else {
                    measures = LinkMeasure.sketched(
                        left: side.sketches[join][subsets.count - 1], leftIndividuals: side.individuals,
                        joinableShare: joinableShare(side, join, subsets.count - 1),
                        recordsAreIndividuals: !side.hasEntity,
                        right: RightCounts(counts: full))
                }
            }
            let label = "release \(release.id) (\(release.name))"
            pairs.append(
                LinkPair(
                    left: side.name, right: label, columns: columns, measures: measures, rightIdentifiers: [],
                    combinations: ranked(combinations),
                    suggestion: suggestion(combinations, joins: joins, names: names, total: measures.uniqueLinks)))
            if let reverse {
                let mirrored = pair.shared.map {
                    SharedColumnReport(
                        left: $0.rightName, right: $0.leftName, comparison: $0.normalizer.description,
                        reason: $0.reason, joins: $0.joins)
                }
                let identifiers = samples[pair.file].columns.filter { $0.role == .identifier && $0.namesIndividuals }
                    .map(\.name)
                pairs.append(
                    LinkPair(
                        left: label, right: side.name, columns: mirrored, measures: reverse,
                        rightIdentifiers: identifiers,
                        combinations: [], suggestion: nil))
            }
        }

        // Pseudonyms: file against file, file against release, release against release.
        var reuse: [PseudonymReuse] = []
        // Two value columns are compared when both look like pseudonyms, or when they are the same
        // column of both sides (a shared identifier or entity).
        typealias ValueColumn = (name: String, pseudonym: Bool, sketch: KHyperLogLog)
        func compare(
            _ leftName: String, _ leftColumns: [ValueColumn], _ rightName: String, _ rightColumns: [ValueColumn],
            sameColumn: (String, String) -> Bool
        ) {
            for a in leftColumns {
                for b in rightColumns where (a.pseudonym && b.pseudonym) || sameColumn(a.name, b.name) {
                    let (shared, share) = LinkMeasure.sharedShare(a.sketch, b.sketch)
                    if shared > 0 {
                        reuse.append(
                            PseudonymReuse(
                                left: leftName, right: rightName, column: a.name, rightColumn: b.name,
                                kind: a.pseudonym && b.pseudonym ? "pseudonym" : "identifier",
                                sharedValues: shared, sharedShare: share))
                    }
                }
            }
        }
        let filePseudonyms: [[ValueColumn]] = inputs.indices.map { index in
            zip(requests[index].pseudonymColumns, sides[index].pseudonyms).map {
                (inputs[index].header.names[$0.0], samples[index].columns[$0.0].pseudonymLike, $0.1)
            }
        }
        let releaseLabels = options.catalog.map { "release \($0.id) (\($0.name))" }
        let releasePseudonyms: [[ValueColumn]] = options.catalog.map { release in
            release.pseudonymSketches.sorted { $0.key < $1.key }.map { ($0.key, true, $0.value) }
        }
        for pair in filePairs {
            let matched = Set(pair.shared.map { "\($0.leftName)\u{0}\($0.rightName)" })
            compare(
                sides[pair.left].name, filePseudonyms[pair.left], sides[pair.right].name, filePseudonyms[pair.right]
            ) { matched.contains("\($0)\u{0}\($1)") }
        }
        for left in inputs.indices where !options.firstFileOnly || left == 0 {
            for release in options.catalog.indices
            where !sameData.contains(where: { $0.file == left && $0.release == release }) {
                compare(sides[left].name, filePseudonyms[left], releaseLabels[release], releasePseudonyms[release]) {
                    $0 == $1
                }
            }
        }
        if !options.firstFileOnly {
            for left in options.catalog.indices {
                for right in options.catalog.indices where right > left {
                    compare(
                        releaseLabels[left], releasePseudonyms[left], releaseLabels[right], releasePseudonyms[right]
                    ) { $0 == $1 }
                }
            }
        }

        // Keys: releases (and the candidate) whose deterministic pseudonyms share a key id.
        var sharedKeys: [SharedKey] = []
        func keys(_ release: CatalogRelease) -> [String: [String]] {
            var result: [String: [String]] = [:]
            for column in release.columns where !column.perRelease {
                if let key = column.keyID { result[key, default: []].append(column.name) }
            }
            return result
        }
        var candidateKeys: [String: [String]] = [:]
        for (column, key) in options.firstFileKeys { candidateKeys[key, default: []].append(column) }
        if !candidateKeys.isEmpty, let first = sides.first {
            for release in options.catalog.indices
            where !sameData.contains(where: { $0.file == 0 && $0.release == release }) {
                for (key, columns) in keys(options.catalog[release]) where candidateKeys[key] != nil {
                    sharedKeys.append(
                        SharedKey(
                            left: first.name, right: releaseLabels[release], keyID: key,
                            columns: (candidateKeys[key]! + columns).sorted()))
                }
            }
        }
        if !options.firstFileOnly {
            for left in options.catalog.indices {
                let leftKeys = keys(options.catalog[left])
                for right in options.catalog.indices where right > left {
                    for (key, columns) in keys(options.catalog[right]) where leftKeys[key] != nil {
                        sharedKeys.append(
                            SharedKey(
                                left: releaseLabels[left], right: releaseLabels[right], keyID: key,
                                columns: Array(Set(leftKeys[key]! + columns)).sorted()))
                    }
                }
            }
        }

        let gate = options.maxUniqueLinkShare.map { limit in
            let worst = pairs.map(\.measures.uniqueLinkShare).max() ?? 0
            return LinkGate(maxUniqueLinkShare: limit, worst: worst, passed: worst <= limit)
        }
        let report = LinkReport(
            files: files, pairs: pairs, pseudonymReuse: reuse, sharedKeys: sharedKeys,
            sameData: sameData.map {
                SameDataRelease(
                    file: sides[$0.file].name, release: releaseLabels[$0.release],
                    releaseID: options.catalog[$0.release].id)
            },
            gate: gate)
        return LinkOutcome(
            report: report, firstSide: sides.first, firstSample: samples.first,
            firstPseudonymColumns: requests.first.map { $0.pseudonymColumns.map { inputs[0].header.names[$0] } } ?? [])
    }

    /// The (file, release) pairs where the file's bytes are the release's data: same record
    /// count, then the same SHA-256 as the catalog recorded. A file is fingerprinted (read once
    /// more) only when a release has its record count; standard input never is.
    static func sameDataReleases(
        inputs: [BlockInput], sides: [LinkSide], catalog: [CatalogRelease],
        files: [Int]
    ) throws -> [(file: Int, release: Int)] {
        var result: [(file: Int, release: Int)] = []
        for file in files where inputs[file].source.identity != nil {
            let candidates = catalog.indices.filter { catalog[$0].records == sides[file].records }
            guard !candidates.isEmpty else { continue }
            let fingerprint = try Fingerprint.sha256(ofFile: inputs[file].source.displayName)
            for release in candidates where catalog[release].dataSHA256 == fingerprint {
                result.append((file, release))
            }
        }
        return result
    }

    /// Shared columns outside `names` stay listed but do not join.
    static func restrict(_ shared: [SharedColumn], to names: [String]?) -> [SharedColumn] {
        guard let names else { return shared }
        return shared.map { column in
            var column = column
            if !names.contains(column.leftName) && !names.contains(column.rightName) {
                column.joins = false
            } else if !column.joins {
                column.joins = true
            }
            return column
        }
    }

    /// The columns of `sample` whose values are compared as sets (pseudonym reuse): values that
    /// name one individual wherever they recur, in the file's order. At most
    /// `LinkRequest.maxValueColumns` (a wide file of unique numbers would otherwise sketch every
    /// column): the entity first, then pseudonyms, then other identifiers.
    static func valueColumns(_ sample: LinkSample, entity: Int?) -> [Int] {
        let columns = sample.columns.indices
        let pseudonyms = columns.filter { $0 != entity && sample.columns[$0].pseudonymLike }
        let identifiers = columns.filter {
            $0 != entity && !sample.columns[$0].pseudonymLike && sample.columns[$0].namesIndividuals
        }
        return ((entity.map { [$0] } ?? []) + pseudonyms + identifiers).prefix(LinkRequest.maxValueColumns).sorted()
    }

    /// The most join columns whose combinations are ranked: past it only the full join is
    /// measured (a sketch per subset; a wide file must not decide the memory).
    public static let maxRankedJoinColumns = 31

    /// The column subsets ranked, at most 63 and the full set: all of them up to 4 join columns;
    /// up to 8, single columns, pairs, all but one, and all; up to `maxRankedJoinColumns`,
    /// single columns, all but one, and all; beyond, the full set alone. The full set is last.
    static func rankingSubsets(_ count: Int) -> [[Int]] {
        let all = Array(0..<count)
        var subsets: [[Int]] = []
        if count <= 4 {
            for mask in 1..<(1 << count) { subsets.append(all.filter { mask & (1 << $0) != 0 }) }
        } else if count <= maxRankedJoinColumns {
            for a in all { subsets.append([a]) }
            if count <= 8 { for a in all { for b in all where b > a { subsets.append([a, b]) } } }
            for skip in all { subsets.append(all.filter { $0 != skip }) }
            subsets.append(all)
        } else {
            subsets.append(all)
        }
        // Fewest columns first, the full set last.
        return subsets.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }.map(
            \.element)
    }

    static func joinableShare(_ side: LinkSide, _ join: Int, _ subset: Int) -> Double {
        guard side.records > 0 else { return 0 }
        return 1 - Double(side.subsetMissing[join][subset]) / Double(side.records)
    }

    /// The release's class table projected onto some of its quasi-identifiers, keyed like a
    /// file's join values: join key -> individuals (summed over the classes that project onto it).
    /// `columns[i]` is the release's column at position `joinPositions[i]` of the join.
    static func project(_ release: CatalogRelease, columns: [Int], joinPositions: [Int], normalizers: [JoinNormalizer])
        -> CountTable
    {
        var counts = CountTable(capacity: release.classes.count)
        classes: for entry in release.classes {
            var sum: UInt64 = 0
            for (index, column) in columns.enumerated() {
                guard let key = normalizers[index].key(Array(entry.tuple[column].utf8)) else { continue classes }
                sum &+= LinkCounter.mix(key, position: joinPositions[index])
            }
            counts.add(LinkCounter.tuple(sum), entry.individuals)
        }
        return counts
    }

    static func ranked(_ combinations: [LinkCombination]) -> [LinkCombination] {
        combinations.enumerated().sorted { a, b in
            (a.element.uniqueLinks, -a.element.columns.count, -a.offset) > (
                b.element.uniqueLinks, -b.element.columns.count, -b.offset
            )
        }.map(\.element)
    }

    /// The join column whose removal leaves the fewest unique links, and how to coarsen it.
    static func suggestion(_ combinations: [LinkCombination], joins: [SharedColumn], names: [String], total: Int)
        -> String?
    {
        guard total > 0, names.count >= 1 else { return nil }
        if names.count == 1 {
            return
                "coarsen `\(names[0])` (\(coarsening(joins[0].normalizer))) in one of the files: it alone makes the links"
        }
        // Without ranked combinations (too many join columns) there is nothing to compare.
        guard !combinations.isEmpty else { return nil }
        var best: (column: Int, links: Int, share: Double)?
        for (index, name) in names.enumerated() {
            let rest = Set(names).subtracting([name])
            guard let without = combinations.first(where: { Set($0.columns) == rest }) else { continue }
            if best == nil || without.uniqueLinks < best!.links {
                best = (index, without.uniqueLinks, without.uniqueLinkShare)
            }
        }
        guard let best else { return nil }
        return
            "coarsen `\(names[best.column])` (\(coarsening(joins[best.column].normalizer))) or leave it out of one file: "
            + "without it the join leaves about \(best.links) unique links (share \(String(format: "%.4f", best.share)))"
    }

    static func coarsening(_ normalizer: JoinNormalizer) -> String {
        switch normalizer {
        case .time(let unit):
            let coarser = TimeUnit.allCases.first { $0 > unit }
            return coarser.map { "to \($0.rawValue) or coarser" } ?? "a coarser time unit"
        case .prefix(let length): return "to fewer than \(length) characters"
        case .number, .bands: return "into wider bands"
        case .grid: return "to a coarser grid"
        case .exact: return "to a higher hierarchy level"
        }
    }
}
