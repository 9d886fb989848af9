import Foundation

/// The risk report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
/// fonts, nothing fetched. The public page shows counts and column names only, never a value of
/// the data; the confidential page adds the smallest classes with their values.
package struct RiskHTML {
    package let report: RiskReport
    package let spec: RiskSpec
    package let confidential: Bool
    /// Generalized or noised columns before and after the policy (`deid publish`).
    package let changes: [ColumnChange]

    package init(report: RiskReport, spec: RiskSpec, confidential: Bool, changes: [ColumnChange] = []) {
        self.report = report
        self.spec = spec
        self.confidential = confidential
        self.changes = changes
    }

    package func render() -> String {
        var body = ""
        let title = confidential ? "Re-identification risk (confidential)" : "Re-identification risk"
        body += "<h1>\(escape(title))</h1>\n"
        body +=
            "<p class=\"note\">\(escape(report.inputs.joined(separator: ", "))): quasi-identifiers \(escape(report.quasiIdentifiers.joined(separator: ", ")))"
        if let entity = report.entity { body += "; individuals are distinct values of \(escape(entity))" }
        body += ". Definitions: Docs/RISK.md.</p>\n"
        if confidential {
            body +=
                "<p class=\"warn\">This page shows values of small classes: it is as confidential as the data. Do not publish it.</p>\n"
        }
        body += summaryTable()
        if !report.gates.isEmpty { body += gatesTable() }
        body += section(
            "Class sizes", "Equivalence classes by size in individuals.", barChart(classSizeBars(), label: "classes"))
        body += section(
            "Risk distribution", "Individuals by prosecutor risk (1 / size of their smallest class).",
            barChart(riskBars(), label: "individuals"))
        if let discovery = report.quasiIdentifierDiscovery, !discovery.combinations.isEmpty {
            let bars = discovery.combinations.map {
                (label: $0.columns.joined(separator: " + "), value: $0.uniqueShare, text: percent($0.uniqueShare))
            }
            var text =
                "Combinations of up to \(discovery.maxColumns) of: \(discovery.candidates.joined(separator: ", ")). Share of individuals they single out."
            if discovery.notCombined > 0 {
                text +=
                    " \(discovery.notCombined) more candidate columns were not combined (the file is too wide or too long)."
            }
            if !discovery.leftOut.isEmpty {
                text +=
                    " Left out (too many distinct values to combine, identifying on their own): "
                    + discovery.leftOut.map { "\($0.column) (\($0.distinct) values)" }.joined(separator: ", ") + "."
            }
            body += section("Most identifying column combinations", text, horizontalBars(bars))
        }
        if let trace = report.traceUniqueness {
            let text =
                "Share of \(trace.entities) entities (\(trace.entity)) singled out by p points of their own trace of \(trace.value) over \(trace.time); time \(trace.timeResolution), value \(trace.valueResolution); mean of \(trace.repetitions) draws with min and max, seed \(trace.seed)."
            body += section("Trace uniqueness against the number of points", text, traceChart(trace))
        }
        if !changes.isEmpty { body += changesSection() }
        if confidential { body += smallestClassesTable() }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
            table { border-collapse: collapse; margin: 1em 0; }
            td, th { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            .note { color: #555; }
            .warn { background: #fee; border: 1px solid #c33; padding: 0.5em; }
            .failed { color: #b00; font-weight: bold; }
            svg text { font-family: sans-serif; font-size: 11px; fill: #333; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    // MARK: Tables

    private func summaryTable() -> String {
        var rows: [(String, String)] = [
            ("Records", "\(report.records)"), ("Individuals", "\(report.individuals)"),
            ("Equivalence classes", "\(report.equivalenceClasses)"), ("Smallest class", "\(report.minClassSize)"),
            (
                "Sample uniques",
                "\(report.sampleUniques) (\(percent(report.individuals > 0 ? Double(report.sampleUniques) / Double(report.individuals) : 0)))"
            ),
            ("Prosecutor risk: highest", fixed(report.prosecutor.max)),
            ("Prosecutor risk: average", fixed(report.prosecutor.average)),
            (
                "Individuals above \(DecimalText.label(report.prosecutor.threshold))",
                percent(report.prosecutor.atRiskShare)
            ),
            ("Marketer risk", fixed(report.marketer)),
        ]
        if let journalist = report.journalist {
            rows.append(
                ("Journalist risk: highest / average", "\(fixed(journalist.max)) / \(fixed(journalist.average))"))
        }
        if let population = report.populationUniqueness {
            rows.append(
                (
                    "Population uniques (\(population.dankarModel), Dankar's rule)",
                    String(format: "%.1f (%@)", population.dankar.uniques, percent(population.dankar.share))
                ))
        }
        if let disclosure = report.attributeDisclosure {
            rows.append(
                (
                    "\(disclosure.column): lowest distinct / entropy l",
                    "\(disclosure.lowestDistinctL) / \(String(format: "%.2f", disclosure.lowestEntropyL))"
                ))
            if let own = disclosure.highestTFile {
                rows.append(
                    (
                        "\(disclosure.column): highest t (\(disclosure.tDistance)) from the \(disclosure.tReference)'s distribution",
                        fixed(disclosure.highestT)
                    ))
                rows.append(
                    (
                        "\(disclosure.column): highest t (\(disclosure.tDistance)) from this file's own distribution",
                        fixed(own)
                    ))
            } else {
                rows.append(("\(disclosure.column): highest t (\(disclosure.tDistance))", fixed(disclosure.highestT)))
            }
        }
        if let trace = report.traceUniqueness {
            rows.append(
                (
                    "Trace uniqueness (\(trace.points) points)",
                    "\(percent(trace.share)) (\(percent(trace.min)) to \(percent(trace.max)))"
                ))
        }
        return "<table>\n"
            + rows.map { "<tr><th>\(escape($0.0))</th><td class=\"n\">\(escape($0.1))</td></tr>\n" }.joined()
            + "</table>\n"
    }

    private func gatesTable() -> String {
        "<h2>Thresholds</h2>\n<table>\n<tr><th>gate</th><th>limit</th><th>value</th><th>result</th></tr>\n"
            + report.gates.map { gate in
                "<tr><td>\(escape(gate.name))</td><td class=\"n\">\(escape(DecimalText.label(gate.limit)))</td><td class=\"n\">\(escape(fixed(gate.value)))</td>"
                    + "<td class=\"\(gate.passed ? "" : "failed")\">\(gate.passed ? "within" : "exceeded")</td></tr>\n"
            }.joined() + "</table>\n"
    }

    private func smallestClassesTable() -> String {
        guard !report.smallestClasses.isEmpty else { return "" }
        var html = "<h2>Smallest classes (confidential)</h2>\n<table>\n<tr>"
        html +=
            report.quasiIdentifiers.map { "<th>\(escape($0))</th>" }.joined()
            + "<th>individuals</th><th>records</th></tr>\n"
        for row in report.smallestClasses {
            html +=
                "<tr>" + row.values.map { "<td>\(escape($0))</td>" }.joined()
                + "<td class=\"n\">\(row.individuals)</td><td class=\"n\">\(row.records)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    private func changesSection() -> String {
        let minimum = confidential ? 1 : spec.publicMinimumClassSize
        // The input's values are the data before de-identification: only the confidential page
        // shows them; the public page shows what was published.
        var html =
            confidential
            ? "<h2>Before and after the policy</h2>\n<p class=\"note\">Each generalized or noised column's values in the input and in the release: records per value or range"
            : "<h2>Generalized and noised columns</h2>\n<p class=\"note\">Each generalized or noised column's values in the release: records per value or range"
        html +=
            "\(changes.first.map { $0.before.sampleEvery > 1 ? ", counted on one record in \($0.before.sampleEvery)" : "" } ?? "")."
        if !confidential {
            html +=
                " Values and ranges held by fewer than \(minimum) individuals are not shown; their records are counted as hidden."
                + " The input's values are in the confidential report only."
        }
        html += "</p>\n"
        for change in changes {
            html += "<h3>\(escape(change.column))</h3>\n"
            let shown =
                confidential
                ? [("before (input)", change.before), ("after (release)", change.after)]
                : [("in the release", change.after)]
            for (title, distribution) in shown {
                let (bars, hidden, _) = distribution.bars(minimumIndividuals: minimum)
                var text = "\(title): \(distribution.records) records counted"
                if hidden > 0 { text += ", \(hidden) hidden or beyond the bars shown" }
                html += "<p class=\"note\">\(escape(text))</p>\n"
                html += barChart(
                    bars.map { (label: $0.label, value: Double($0.records)) }, label: "records", compact: true)
            }
        }
        return html
    }

    // MARK: Charts

    private func classSizeBars() -> [(label: String, value: Double)] {
        let bands: [(String, ClosedRange<Int>)] = [
            ("1", 1...1), ("2", 2...2), ("3", 3...3), ("4", 4...4), ("5-9", 5...9), ("10-19", 10...19),
            ("20-49", 20...49), ("50-99", 50...99), ("100+", 100...Int.max),
        ]
        return bands.map { band in
            (band.0, Double(report.classSizes.filter { band.1.contains($0.size) }.reduce(0) { $0 + $1.classes }))
        }
    }

    private func riskBars() -> [(label: String, value: Double)] {
        let bands: [(String, ClosedRange<Int>)] = [
            ("1", 1...1), ("1/2", 2...2), ("1/3-1/4", 3...4), ("1/5-1/9", 5...9),
            ("1/10-1/19", 10...19), ("< 1/20", 20...Int.max),
        ]
        return bands.map { band in
            (band.0, Double(report.classSizes.filter { band.1.contains($0.size) }.reduce(0) { $0 + $1.individuals }))
        }
    }

    private func barChart(_ bars: [(label: String, value: Double)], label: String, compact: Bool = false) -> String {
        let width = compact ? 900.0 : 640.0
        let height = compact ? 180.0 : 220.0
        let left = 60.0
        let bottom = compact ? 60.0 : 30.0
        let top = 20.0
        let highest = max(bars.map(\.value).max() ?? 0, 1)
        let step = (width - left - 10) / Double(max(bars.count, 1))
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(label))\">\n"
        svg +=
            "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - 10)\" y2=\"\(height - bottom)\" stroke=\"#999\"/>\n"
        svg +=
            "<text x=\"4\" y=\"\(top)\">\(escape(label))</text>\n<text x=\"4\" y=\"\(top + 14)\">max \(Int(highest))</text>\n"
        for (index, bar) in bars.enumerated() {
            let barHeight = (height - bottom - top) * bar.value / highest
            let x = left + Double(index) * step + 4
            svg +=
                "<rect x=\"\(fmt(x))\" y=\"\(fmt(height - bottom - barHeight))\" width=\"\(fmt(step - 8))\" height=\"\(fmt(barHeight))\" fill=\"#4a7ab5\"><title>\(escape(bar.label)): \(Int(bar.value))</title></rect>\n"
            if compact {
                let labelX = x + (step - 8) / 2
                let labelY = height - bottom + 10
                svg +=
                    "<text x=\"\(fmt(labelX))\" y=\"\(fmt(labelY))\" text-anchor=\"end\" transform=\"rotate(-40 \(fmt(labelX)) \(fmt(labelY)))\">\(escape(bar.label))</text>\n"
            } else {
                svg +=
                    "<text x=\"\(fmt(x + (step - 8) / 2))\" y=\"\(fmt(height - bottom + 14))\" text-anchor=\"middle\">\(escape(bar.label))</text>\n"
            }
            svg +=
                "<text x=\"\(fmt(x + (step - 8) / 2))\" y=\"\(fmt(height - bottom - barHeight - 3))\" text-anchor=\"middle\">\(Int(bar.value))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private func horizontalBars(_ bars: [(label: String, value: Double, text: String)]) -> String {
        let width = 640.0
        let row = 22.0
        let labelWidth = 300.0
        let height = row * Double(bars.count) + 10
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"combinations\">\n"
        for (index, bar) in bars.enumerated() {
            let y = 5 + Double(index) * row
            let length = (width - labelWidth - 60) * min(max(bar.value, 0), 1)
            svg +=
                "<text x=\"\(fmt(labelWidth - 6))\" y=\"\(fmt(y + 14))\" text-anchor=\"end\">\(escape(bar.label))</text>\n"
            svg +=
                "<rect x=\"\(fmt(labelWidth))\" y=\"\(fmt(y + 3))\" width=\"\(fmt(length))\" height=\"\(fmt(row - 6))\" fill=\"#b5574a\"/>\n"
            svg += "<text x=\"\(fmt(labelWidth + length + 4))\" y=\"\(fmt(y + 14))\">\(escape(bar.text))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private func traceChart(_ trace: TraceUniqueness) -> String {
        let width = 640.0
        let height = 240.0
        let left = 50.0
        let bottom = 30.0
        let top = 15.0
        let right = 20.0
        let count = trace.byPoints.count
        func x(_ points: Int) -> Double {
            left + (width - left - right) * Double(points - 1) / Double(max(count - 1, 1))
        }
        func y(_ share: Double) -> Double { height - bottom - (height - bottom - top) * share }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"trace uniqueness\">\n"
        for share in [0.0, 0.25, 0.5, 0.75, 1.0] {
            svg +=
                "<line x1=\"\(left)\" y1=\"\(fmt(y(share)))\" x2=\"\(width - right)\" y2=\"\(fmt(y(share)))\" stroke=\"#eee\"/>\n"
            svg +=
                "<text x=\"\(left - 6)\" y=\"\(fmt(y(share) + 4))\" text-anchor=\"end\">\(Int(share * 100))%</text>\n"
        }
        let band =
            trace.byPoints.map { "\(fmt(x($0.points))),\(fmt(y($0.max)))" }
            + trace.byPoints.reversed().map { "\(fmt(x($0.points))),\(fmt(y($0.min)))" }
        svg += "<polygon points=\"\(band.joined(separator: " "))\" fill=\"#c9d8ec\"/>\n"
        svg +=
            "<polyline points=\"\(trace.byPoints.map { "\(fmt(x($0.points))),\(fmt(y($0.share)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"#4a7ab5\" stroke-width=\"2\"/>\n"
        for point in trace.byPoints {
            let radius = point.points == trace.points ? 5 : 3
            svg +=
                "<circle cx=\"\(fmt(x(point.points)))\" cy=\"\(fmt(y(point.share)))\" r=\"\(radius)\" fill=\"#4a7ab5\"><title>\(point.points) points: \(percent(point.share))</title></circle>\n"
            svg +=
                "<text x=\"\(fmt(x(point.points)))\" y=\"\(fmt(height - bottom + 14))\" text-anchor=\"middle\">\(point.points)</text>\n"
        }
        svg += "<text x=\"\(fmt(width / 2))\" y=\"\(fmt(height - 2))\" text-anchor=\"middle\">points known</text>\n"
        return svg + "</svg>\n"
    }

    // MARK: Helpers

    private func section(_ title: String, _ text: String, _ content: String) -> String {
        "<h2>\(escape(title))</h2>\n<p class=\"note\">\(escape(text))</p>\n\(content)"
    }

    private func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }
    private func fixed(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format: "%.4f", value)
    }
    private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    private func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
