/// Masking: every character but the first `keepFirst` and last `keepLast` replaced by the mask
/// character, or every character a regular expression matches replaced.
package struct Masker: @unchecked Sendable {
    package let spec: MaskSpec
    private let pattern: Regex<AnyRegexOutput>?

    package init(spec: MaskSpec) throws {
        self.spec = spec
        pattern = try spec.pattern.map { try Regex($0) }
    }

    /// The masked value; an empty value stays empty.
    package func mask(_ value: ArraySlice<UInt8>) -> [UInt8] {
        if value.isEmpty { return [] }
        let text = String(decoding: value, as: UTF8.self)
        if let pattern {
            var result = ""
            var position = text.startIndex
            for match in text.matches(of: pattern) {
                result += text[position..<match.range.lowerBound]
                result += String(repeating: spec.character, count: text[match.range].count)
                position = match.range.upperBound
            }
            result += text[position...]
            return Array(result.utf8)
        }
        let characters = Array(text)
        var result = ""
        for (index, character) in characters.enumerated() {
            let kept = index < spec.keepFirst || index >= characters.count - spec.keepLast
            result += kept ? String(character) : spec.character
        }
        return Array(result.utf8)
    }
}

/// Cell suppression: the listed values, or every non-empty value, replaced by a token.
package struct CellSuppressor: Sendable {
    package let token: [UInt8]
    private let values: Set<[UInt8]>?

    package init(spec: SuppressSpec) {
        token = Array(spec.token.utf8)
        values = spec.values.map { Set($0.map { Array($0.utf8) }) }
    }

    package func suppress(_ value: ArraySlice<UInt8>) -> [UInt8] {
        if value.isEmpty { return [] }
        if let values, !values.contains(Array(value)) { return Array(value) }
        return token
    }
}
