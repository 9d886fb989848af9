import Yams

/// Walks a YAML document, converting nodes to values and collecting a diagnostic (with the
/// node's line and column and its key path) for everything that does not fit.
final class PolicyReader {
    let file: String
    private(set) var diagnostics: [PolicyDiagnostic] = []

    init(file: String) { self.file = file }

    func report(_ node: Node?, _ path: String, _ message: String) {
        diagnostics.append(
            PolicyDiagnostic(
                file: file, line: node?.mark?.line, column: node?.mark?.column,
                path: path, message: message))
    }

    /// The entries of a mapping in document order, with unknown keys reported (with a
    /// suggestion) and skipped. Nil, reported, when the node is not a mapping.
    func mapping(_ node: Node, _ path: String, allowed: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(node, path, "expected a mapping of keys to values (\(describe(node)) found)")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                report(keyNode, path, "keys must be plain text")
                continue
            }
            if !allowed.isEmpty && !allowed.contains(key) {
                report(keyNode, path, "unknown key '\(key)'\(Suggestion.phrase(for: key, among: allowed))")
                continue
            }
            if !seen.insert(key).inserted {
                report(keyNode, join(path, key), "key given twice")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node, path, "expected text (\(describe(node)) found)")
            return nil
        }
        return scalar.string
    }

    /// One of `choices`, named by its text: another text is reported as `unknown NOUN 'x'`,
    /// with a "did you mean" and the choices (`NOUNs: a, b`).
    func choice<Value: RawRepresentable>(_ node: Node, _ path: String, _ noun: String, among choices: [Value]) -> Value?
    where Value.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = choices.first(where: { $0.rawValue == text }) { return value }
        let names = choices.map(\.rawValue)
        report(
            node, path,
            "unknown \(noun) '\(text)'\(Suggestion.phrase(for: text, among: names)) (\(noun)s: \(names.joined(separator: ", ")))"
        )
        return nil
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        guard case .scalar = node, let value = node.bool else {
            report(node, path, "expected true or false")
            return nil
        }
        return value
    }

    func integer(_ node: Node, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar = node, let value = node.int else {
            report(node, path, "expected a whole number")
            return nil
        }
        guard range.contains(value) else {
            report(node, path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    func number(_ node: Node, _ path: String, positive: Bool = false) -> Double? {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string.trimmingSpaces), value.isFinite else {
            report(node, path, "expected a number")
            return nil
        }
        if positive && !(value > 0) {
            report(node, path, "must be greater than 0")
            return nil
        }
        return value
    }

    /// A list, or a single scalar taken as a list of one.
    func list(_ node: Node, _ path: String) -> [Node]? {
        switch node {
        case .sequence(let sequence): return Array(sequence)
        case .scalar: return [node]
        default:
            report(node, path, "expected a value or a list (\(describe(node)) found)")
            return nil
        }
    }

    /// A list that must hold at least one item; an empty one is reported with `what` ("give at
    /// least one length"), since an empty list would leave the column as it is.
    func nonEmptyList(_ node: Node, _ path: String, _ what: String) -> [Node]? {
        guard let items = list(node, path) else { return nil }
        if items.isEmpty {
            report(node, path, "an empty list: give at least one \(what)")
            return nil
        }
        return items
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

extension String {
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
