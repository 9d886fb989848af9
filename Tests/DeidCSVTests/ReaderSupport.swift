import DeidCSV
import DeidTestSupport
import Testing

/// A small CSV under the header `x,y`: up to `maxRows` rows of two raw fields, each mostly plain
/// text and sometimes a quoted string, a doubled or stray quote, a delimiter or a line break, so
/// that many inputs are malformed; rows end in LF or CR LF.
func randomRawCSV(_ random: inout TestRandom, maxRows: Int) -> [UInt8] {
    let pieces = ["a", "b", " ", "a", "\"q\"", "\"a,b\"", "\"x\ny\"", "\"\"\"\"", "\"", ",", "\r", ";"]
    var text = "x,y\n"
    for _ in 0..<Int.random(in: 0...maxRows, using: &random) {
        let fields = (0..<2).map { _ in
            (0..<Int.random(in: 0...2, using: &random)).map { _ in
                pieces[Int.random(in: 0..<pieces.count, using: &random)]
            }.joined()
        }
        text += fields.joined(separator: ",") + (Bool.random(using: &random) ? "\n" : "\r\n")
    }
    return Array(text.utf8)
}

/// Runs of lines sharing their first fields (a household's readings), for the reader's reuse of
/// repeated leading fields: plain, spaced, empty and quoted fields (with a delimiter or doubled
/// quotes), and now and then a quoted line break, a stray quote, a CR LF, a blank line or a
/// line with a field missing.
func repeatedRunsCSV(_ random: inout TestRandom) -> [UInt8] {
    let columns = Int.random(in: 2...5, using: &random)
    let pieces = ["a", "bb", "x y", "", " ", " c ", "\"p,q\"", "\"say \"\"hi\"\"\"", "\"\"", "12.5", "MTR-0001"]
    let rare = ["\"l\nm\"", "\"", "x\"y", "\r"]
    func field() -> String {
        Int.random(in: 0..<150, using: &random) == 0
            ? rare[Int.random(in: 0..<rare.count, using: &random)]
            : pieces[Int.random(in: 0..<pieces.count, using: &random)]
    }
    var text = (1...columns).map { "c\($0)" }.joined(separator: ",") + "\n"
    for _ in 0..<Int.random(in: 0...8, using: &random) {
        let shared = Int.random(in: 0...columns, using: &random)
        let lead = (0..<shared).map { _ in field() }
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            var fields = lead + (shared..<columns).map { _ in field() }
            if Int.random(in: 0..<100, using: &random) == 0 { fields.removeLast() }
            text += fields.joined(separator: ",") + (Int.random(in: 0..<30, using: &random) == 0 ? "\r\n" : "\n")
            if Int.random(in: 0..<25, using: &random) == 0 { text += "\n" }
        }
    }
    return Array(text.utf8)
}
