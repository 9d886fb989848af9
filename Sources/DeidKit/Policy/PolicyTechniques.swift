import DeidCSV
import Foundation
import Yams

/// Reading the techniques of a policy's columns: each value checked, each problem reported with
/// its key path.
extension PolicyLoader.Builder {
    func readKey(_ node: Node, _ path: String) -> KeyReference? {
        guard let text = reader.string(node, path) else { return nil }
        let reference: KeyReference
        if text.hasPrefix("env:"), text.count > 4 {
            reference = .environment(String(text.dropFirst(4)))
        } else if text.hasPrefix("file:"), text.count > 5 {
            var file = String(text.dropFirst(5))
            if !file.hasPrefix("/") { file = directory + "/" + file }
            reference = .file(file)
        } else {
            reader.report(node, path, "a key comes from env:NAME or file:PATH, never from the policy text")
            return nil
        }
        guard checkingKeys else { return reference }
        do { _ = try KeyResolver.resolve(reference, environment: environment) } catch let error as KeyError {
            reader.report(node, path, error.message)
        } catch {
            reader.report(node, path, "\(error)")
        }
        return reference
    }

    func readPseudonymize(_ node: Node, _ path: String) -> PseudonymizeSpec? {
        guard let entries = reader.mapping(node, path, allowed: ["key", "length", "encoding", "per_release", "rotate"])
        else {
            return nil
        }
        var key: KeyReference?
        var spec = PseudonymizeSpec(key: .environment(""), length: 16, encoding: .hex, perRelease: false)
        var valid = true
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "key": key = readKey(entry.value, keyPath)
            case "length":
                if let length = reader.integer(entry.value, keyPath, in: 8...64) {
                    spec.length = length
                } else {
                    valid = false
                }
            case "encoding":
                if let text = reader.string(entry.value, keyPath) {
                    if let encoding = PseudonymizeSpec.Encoding(rawValue: text) {
                        spec.encoding = encoding
                    } else {
                        reader.report(entry.value, keyPath, "unknown encoding '\(text)' (hex or base32)")
                        valid = false
                    }
                }
            case "rotate":
                if let rotation = readRotation(entry.value, keyPath) { spec.rotation = rotation } else { valid = false }
            default:
                if let flag = reader.bool(entry.value, keyPath) { spec.perRelease = flag }
            }
        }
        let limit = spec.encoding == .hex ? 64 : 52
        if spec.length > limit {
            reader.report(node, "\(path).length", "at most \(limit) characters in \(spec.encoding.rawValue)")
            valid = false
        }
        guard let key else {
            if !entries.contains(where: { $0.key == "key" }) {
                reader.report(node, path, "missing key 'key' (env:NAME or file:PATH)")
            }
            return nil
        }
        spec.key = key
        return valid ? spec : nil
    }

    /// `rotate: { every: day | week | month, column: TIME_COLUMN }`.
    func readRotation(_ node: Node, _ path: String) -> PseudonymizeSpec.Rotation? {
        guard let entries = reader.mapping(node, path, allowed: ["every", "column"]) else { return nil }
        var every: TimeUnit?
        var column: String?
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            if entry.key == "every" {
                every = reader.choice(entry.value, keyPath, "period", among: PseudonymizeSpec.rotationUnits)
                continue
            }
            guard let text = reader.string(entry.value, keyPath) else { continue }
            if header.contains(text) {
                column = text
            } else {
                reader.report(
                    entry.value, keyPath,
                    "'\(text)' is not a column of the input\(Suggestion.phrase(for: text, among: header))")
            }
        }
        for key in ["every", "column"] where !entries.contains(where: { $0.key == key }) {
            reader.report(node, path, "missing key '\(key)' (rotate: { every: day, column: reading_time })")
        }
        guard let every, let column else { return nil }
        return PseudonymizeSpec.Rotation(every: every, column: column)
    }

    func readMask(_ node: Node, _ path: String) -> MaskSpec? {
        guard let entries = reader.mapping(node, path, allowed: ["keep_first", "keep_last", "pattern", "char"])
        else { return nil }
        var spec = MaskSpec(keepFirst: 0, keepLast: 0, pattern: nil, character: "*")
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "keep_first": spec.keepFirst = reader.integer(entry.value, keyPath, in: 0...1000) ?? 0
            case "keep_last": spec.keepLast = reader.integer(entry.value, keyPath, in: 0...1000) ?? 0
            case "pattern":
                if let pattern = reader.string(entry.value, keyPath) {
                    if (try? Regex(pattern)) == nil {
                        reader.report(entry.value, keyPath, "not a valid regular expression")
                    } else {
                        spec.pattern = pattern
                    }
                }
            default:
                if let text = reader.string(entry.value, keyPath) {
                    if text.count == 1 {
                        spec.character = text
                    } else {
                        reader.report(entry.value, keyPath, "must be one character")
                    }
                }
            }
        }
        if spec.pattern != nil && (spec.keepFirst > 0 || spec.keepLast > 0) {
            reader.report(node, path, "give either a pattern or keep_first/keep_last, not both")
        }
        return spec
    }

    func readSuppress(_ node: Node, _ path: String) -> SuppressSpec? {
        guard let entries = reader.mapping(node, path, allowed: ["token", "values"]) else { return nil }
        var spec = SuppressSpec(token: "*", values: nil)
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            if entry.key == "token" {
                spec.token = reader.string(entry.value, keyPath) ?? "*"
            } else if let items = reader.nonEmptyList(
                entry.value, keyPath, "value to suppress (leave 'values' out to suppress every value)")
            {
                spec.values = items.compactMap { reader.string($0, keyPath) }
            }
        }
        return spec
    }

    func readNoise(_ node: Node, _ path: String) -> NoiseSpec? {
        guard
            let entries = reader.mapping(
                node, path, allowed: ["laplace", "gaussian", "percent", "min", "max", "round"])
        else { return nil }
        var distributions: [NoiseSpec.Distribution] = []
        var spec = NoiseSpec(distribution: .laplace(1), minimum: nil, maximum: nil, decimals: nil)
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "laplace", "gaussian":
                // Noise beyond 10^12 would only overflow numbers (to infinity) or drown them.
                guard let scale = reader.number(entry.value, keyPath, positive: true) else { continue }
                guard scale <= NoiseSpec.maximumScale else {
                    reader.report(
                        entry.value, keyPath, "must be at most \(DecimalText.label(NoiseSpec.maximumScale))")
                    continue
                }
                distributions.append(entry.key == "laplace" ? .laplace(scale) : .gaussian(scale))
            case "percent":
                guard let percent = reader.number(entry.value, keyPath, positive: true) else { continue }
                guard percent <= NoiseSpec.maximumPercent else {
                    reader.report(
                        entry.value, keyPath,
                        "must be at most \(DecimalText.label(NoiseSpec.maximumPercent)) (percent of the value)")
                    continue
                }
                distributions.append(.percent(percent))
            case "min": spec.minimum = reader.number(entry.value, keyPath)
            case "max": spec.maximum = reader.number(entry.value, keyPath)
            default: spec.decimals = reader.integer(entry.value, keyPath, in: 0...12)
            }
        }
        if let minimum = spec.minimum, let maximum = spec.maximum, minimum > maximum {
            reader.report(node, path, "min is greater than max")
        }
        guard distributions.count == 1 else {
            let given = entries.contains { ["laplace", "gaussian", "percent"].contains($0.key) }
            // A distribution given with a bad value was reported as such.
            if !(distributions.isEmpty && given) {
                reader.report(
                    node, path,
                    distributions.isEmpty
                        ? "give one of laplace, gaussian or percent"
                        : "give only one of laplace, gaussian or percent")
            }
            return nil
        }
        spec.distribution = distributions[0]
        return spec
    }

    func readDateShift(_ node: Node, _ path: String) -> DateShiftSpec? {
        guard let entries = reader.mapping(node, path, allowed: ["max_days", "key", "per_release"]) else {
            return nil
        }
        var maxDays: Int?
        var key: KeyReference?
        var perRelease = false
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "max_days": maxDays = reader.integer(entry.value, keyPath, in: 1...3650)
            case "key": key = readKey(entry.value, keyPath)
            default: perRelease = reader.bool(entry.value, keyPath) ?? false
            }
        }
        if !entries.contains(where: { $0.key == "max_days" }) {
            reader.report(node, path, "missing key 'max_days'")
        }
        if !entries.contains(where: { $0.key == "key" }) {
            reader.report(node, path, "missing key 'key' (env:NAME or file:PATH)")
        }
        guard let maxDays, let key else { return nil }
        return DateShiftSpec(maxDays: maxDays, key: key, perRelease: perRelease)
    }

    func readAggregate(_ node: Node, _ path: String) -> AggregateSpec? {
        guard let entries = reader.mapping(node, path, allowed: ["every", "sum", "mean", "count"]) else {
            return nil
        }
        var spec = AggregateSpec(every: .day, sum: [], mean: [], countColumn: nil)
        var hasEvery = false
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "every":
                hasEvery = true
                if let unit = readTimeUnit(entry.value, keyPath) { spec.every = unit }
            case "sum":
                spec.sum = reader.list(entry.value, keyPath)?.compactMap { reader.string($0, keyPath) } ?? []
            case "mean":
                spec.mean = reader.list(entry.value, keyPath)?.compactMap { reader.string($0, keyPath) } ?? []
            default: spec.countColumn = reader.string(entry.value, keyPath)
            }
        }
        if !hasEvery {
            reader.report(
                node, path, "missing key 'every' (\(TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if spec.sum.isEmpty && spec.mean.isEmpty {
            reader.report(node, path, "name the columns to aggregate with sum: [...] or mean: [...]")
        }
        return spec
    }

    func readTimeUnit(_ node: Node, _ path: String) -> TimeUnit? {
        reader.choice(node, path, "unit", among: TimeUnit.allCases)
    }

    func readGeneralize(_ node: Node, _ path: String) -> GeneralizationSpec? {
        guard let entries = reader.mapping(node, path, allowed: PolicyLoader.generalizeKeys) else { return nil }
        var methods: [(String, GeneralizationSpec.Method?)] = []
        var level = 1
        var levelNode: Node?
        var bottom: Double?
        var top: Double?
        var topBottomSeen = false
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "level":
                levelNode = entry.value
                level = reader.integer(entry.value, keyPath, in: 0...64) ?? 1
            case "round":
                let bases = reader.nonEmptyList(entry.value, keyPath, "base")?.compactMap {
                    reader.number($0, keyPath, positive: true)
                }
                if let bases,
                    zip(bases, bases.dropFirst()).contains(where: { pair in
                        let ratio = pair.1 / pair.0
                        return ratio < 1.5 || abs(ratio - ratio.rounded()) > 1e-9
                    })
                {
                    reader.report(
                        entry.value, keyPath,
                        "each base must be a multiple of the one before (5, 10, 100), so that levels nest")
                }
                methods.append((entry.key, bases.flatMap { $0.isEmpty ? nil : .round($0) }))
            case "intervals":
                let breaks = reader.list(entry.value, keyPath)?.compactMap { reader.number($0, keyPath) } ?? []
                if breaks.count < 2 || zip(breaks, breaks.dropFirst()).contains(where: { $0 >= $1 }) {
                    reader.report(entry.value, keyPath, "give at least two break points in increasing order")
                    methods.append((entry.key, nil))
                } else {
                    methods.append((entry.key, .intervals(breaks)))
                }
            case "top", "bottom":
                let value = reader.number(entry.value, keyPath)
                if entry.key == "top" { top = value } else { bottom = value }
                if !topBottomSeen { methods.append(("top/bottom", nil)) }
                topBottomSeen = true
            case "time":
                let units =
                    reader.nonEmptyList(entry.value, keyPath, "time unit")?.compactMap { readTimeUnit($0, keyPath) }
                    ?? []
                if units != units.sorted() {
                    reader.report(entry.value, keyPath, "list units from finest to coarsest")
                }
                methods.append((entry.key, units.isEmpty ? nil : .time(units)))
            case "age":
                methods.append((entry.key, readAge(entry.value, keyPath)))
            case "prefix":
                let lengths =
                    reader.nonEmptyList(entry.value, keyPath, "length")?.compactMap {
                        reader.integer($0, keyPath, in: 0...1000)
                    } ?? []
                if lengths != lengths.sorted(by: >) {
                    reader.report(entry.value, keyPath, "list lengths from longest to shortest")
                }
                methods.append((entry.key, lengths.isEmpty ? nil : .prefix(lengths)))
            case "decimals":
                let places =
                    reader.nonEmptyList(entry.value, keyPath, "number of decimal places")?.compactMap {
                        reader.integer($0, keyPath, in: 0...12)
                    } ?? []
                if places != places.sorted(by: >) {
                    reader.report(entry.value, keyPath, "list decimal places from most to fewest")
                }
                methods.append((entry.key, places.isEmpty ? nil : .decimals(places)))
            case "grid":
                methods.append((entry.key, readGrid(entry.value, keyPath)))
            default:
                guard let file = reader.string(entry.value, keyPath) else {
                    methods.append((entry.key, nil))
                    continue
                }
                let resolved = file.hasPrefix("/") ? file : directory + "/" + file
                do {
                    let table = try HierarchyTable.load(path: resolved, displayName: file)
                    methods.append((entry.key, .hierarchy(path: resolved, levels: table.levelCount)))
                } catch {
                    reader.report(entry.value, keyPath, "\(error)")
                    methods.append((entry.key, nil))
                }
            }
        }
        if topBottomSeen, let index = methods.firstIndex(where: { $0.0 == "top/bottom" }) {
            if top == nil && bottom == nil {
                methods[index].1 = nil
            } else {
                methods[index].1 = .topBottom(bottom: bottom, top: top)
            }
            if let top, let bottom, bottom >= top { reader.report(node, path, "bottom must be below top") }
        }
        guard methods.count == 1 else {
            reader.report(
                node, path,
                methods.isEmpty
                    ? "give one method: \(PolicyLoader.generalizeKeys.filter { $0 != "level" }.joined(separator: ", "))"
                    : "give one method, not \(methods.map(\.0).joined(separator: " and "))")
            return nil
        }
        guard let method = methods[0].1 else { return nil }
        let spec = GeneralizationSpec(method: method, level: level, levelGiven: levelNode != nil)
        if let levelNode, level > spec.levelCount {
            reader.report(
                levelNode, "\(path).level",
                "this generalization has \(spec.levelCount) level\(spec.levelCount == 1 ? "" : "s")")
            return nil
        }
        return spec
    }

    func readAge(_ node: Node, _ path: String) -> GeneralizationSpec.Method? {
        guard let entries = reader.mapping(node, path, allowed: ["at", "bands"]) else { return nil }
        var reference: CivilDate?
        var bands = [1]
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            if entry.key == "at" {
                if let text = reader.string(entry.value, keyPath) {
                    reference = CivilDate(iso: text)
                    if reference == nil { reader.report(entry.value, keyPath, "expected a date as YYYY-MM-DD") }
                }
            } else {
                bands =
                    reader.nonEmptyList(entry.value, keyPath, "band width")?.compactMap {
                        reader.integer($0, keyPath, in: 1...200)
                    } ?? [1]
                if bands != bands.sorted() {
                    reader.report(entry.value, keyPath, "list band widths from narrowest to widest")
                }
            }
        }
        if !entries.contains(where: { $0.key == "at" }) {
            reader.report(node, path, "missing key 'at' (the date ages are computed at)")
        }
        guard let reference, !bands.isEmpty else { return nil }
        return .age(reference: reference, bands: bands)
    }

    func readGrid(_ node: Node, _ path: String) -> GeneralizationSpec.Method? {
        guard let entries = reader.mapping(node, path, allowed: ["metres", "axis", "latitude"]) else { return nil }
        var metres: [Double] = []
        var axis: CoordinateAxis?
        var latitude: String?
        for entry in entries {
            let keyPath = "\(path).\(entry.key)"
            switch entry.key {
            case "metres":
                metres =
                    reader.nonEmptyList(entry.value, keyPath, "cell size")?.compactMap {
                        reader.number($0, keyPath, positive: true)
                    } ?? []
            case "axis":
                if let text = reader.string(entry.value, keyPath) {
                    axis = CoordinateAxis(rawValue: text)
                    if axis == nil { reader.report(entry.value, keyPath, "axis is latitude or longitude") }
                }
            default:
                latitude = reader.string(entry.value, keyPath)
                if let name = latitude, !header.contains(name) {
                    reader.report(
                        entry.value, keyPath,
                        "no column '\(name)' in the input\(Suggestion.phrase(for: name, among: header))")
                }
            }
        }
        if metres.isEmpty { reader.report(node, path, "missing key 'metres' (the cell size)") }
        if axis == nil && !entries.contains(where: { $0.key == "axis" }) {
            reader.report(node, path, "missing key 'axis' (latitude or longitude)")
        }
        if axis == .longitude && latitude == nil {
            reader.report(node, path, "a longitude grid needs 'latitude': the column holding the row's latitude")
        }
        guard let axis, !metres.isEmpty else { return nil }
        return .grid(metres: metres, axis: axis, latitudeColumn: latitude)
    }
}
