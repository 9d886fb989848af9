/// Units of time, finest first: the levels of timestamp generalization.
public enum TimeUnit: String, Sendable, CaseIterable, Comparable {
    case minute
    case quarterHour = "15min"
    case halfHour = "30min"
    case hour, day, week, month, year

    public static func < (lhs: TimeUnit, rhs: TimeUnit) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
