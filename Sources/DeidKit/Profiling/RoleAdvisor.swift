/// Suggests a role for every column of a profiled file, with the reason in words.
///
/// In order: the entity column (values that repeat over time, named like an id, in a file with
/// a time column); direct identifiers (by name, by value pattern, or unique per row or per
/// entity); quasi-identifiers (by name or postcode pattern); timestamps; measures (numeric
/// values that vary: sensitive); the rest insensitive.
struct RoleAdvisor {
    var columns: [ColumnFacts]
    var rows: Int

    struct Advice {
        var entity: String?
        var roles: [(role: SuggestedRole, reason: String)]
    }

    /// Share of sampled values that must match a pattern.
    private let patternShare = 0.8

    func advise() -> Advice {
        let entity = chooseEntity()
        let roles = columns.map { role(of: $0, entity: entity) }
        return Advice(entity: entity.map { columns[$0].name }, roles: roles)
    }

    /// The column whose values identify the person or household a record belongs to.
    private func chooseEntity() -> Int? {
        let hasTime = columns.contains { $0.type == .timestamp || $0.type == .date }
        guard hasTime, rows >= 2 else { return nil }
        let candidates = columns.indices.filter { index in
            let column = columns[index]
            return column.repeats && column.distinct >= 2 && column.type != .timestamp && column.type != .date
                && column.type != .decimal && column.hint == .entityKey
        }
        return candidates.max { columns[$0].distinct < columns[$1].distinct }
    }

    private func role(of column: ColumnFacts, entity: Int?) -> (role: SuggestedRole, reason: String) {
        let statistics = column.statistics
        if let entity, columns[entity].name == column.name {
            let perEntity = Double(column.nonEmpty) / Double(max(column.distinct, 1))
            let each =
                perEntity >= 10
                ? "about \(Int(perEntity.rounded())) records each"
                : "\(column.distinct) values in \(column.nonEmpty) records"
            return (
                .entity,
                "values repeat over time (\(each)): the person, household or vehicle each record belongs to; pseudonymize it"
            )
        }
        if case .directIdentifier(let what) = column.hint {
            return (.identifier, "the name says \(what): drop or pseudonymize it")
        }
        if statistics.share(statistics.emails) >= patternShare {
            return (.identifier, "values are e-mail addresses")
        }
        if statistics.share(statistics.phones) >= patternShare {
            return (.identifier, "values are phone numbers")
        }
        if statistics.share(statistics.personNames) >= patternShare {
            return (.identifier, "values look like person names")
        }
        if let entity, column.dependencyKnown, columns[entity].dependencyKnown,
            column.determines.contains(columns[entity].name), columns[entity].determines.contains(column.name),
            column.hint == .none || column.hint == .entityKey
        {
            return (
                .identifier,
                "one value per \(columns[entity].name) and the reverse: it identifies the entity as well as the key does"
            )
        }
        if column.distinct == column.nonEmpty, column.nonEmpty >= 2, statistics.distinct.isExact,
            column.type != .decimal, column.type != .timestamp, column.type != .date, entity == nil,
            column.hint == .none || column.hint == .entityKey
        {
            return (.identifier, "every value is unique: it singles out each record")
        }
        if case .quasiIdentifier(let what) = column.hint {
            if column.type == .timestamp {
                return (.quasiIdentifier, "the name says \(what), and values are timestamps")
            }
            return (.quasiIdentifier, "the name says \(what), which helps single people out in combination")
        }
        if statistics.share(statistics.ukPostcodes) >= patternShare {
            return (.quasiIdentifier, "values are UK postcodes")
        }
        if column.type == .timestamp || column.type == .date {
            return (
                .timestamp,
                "\(column.type == .date ? "dates" : "timestamps"): generalize them to the coarsest unit the release needs"
            )
        }
        if case .sensitive(let what) = column.hint {
            return (.sensitive, "the name says \(what)")
        }
        if case .entityKey = column.hint, column.distinct > 20 {
            return (.identifier, "the name says it is an identifier")
        }
        if column.type == .decimal || (column.type == .integer && column.distinct > 20) {
            return (.sensitive, "a measure: numeric values that vary from record to record")
        }
        if let entity, column.dependencyKnown, column.type == .categorical || column.type == .integer,
            columns[entity].determines.contains(column.name)
        {
            return (
                .quasiIdentifier,
                "a fixed attribute of each \(columns[entity].name): it can single out entities in combination"
            )
        }
        if column.type == .empty {
            return (.insensitive, rows == 0 ? "the file has no records" : "every value is empty")
        }
        return (.insensitive, "no identifying name or pattern found")
    }
}
