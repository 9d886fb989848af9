/// A transformation of the quasi-identifiers: the generalization level of each, in
/// `PrivacyStatistics.columns` order. A node of the search's lattice.
package struct Transformation: Hashable, Sendable, CustomStringConvertible {
    package let levels: [Int]

    package init(_ levels: [Int]) { self.levels = levels }

    /// The identity: every quasi-identifier at level 0.
    package init(width: Int) { levels = [Int](repeating: 0, count: width) }

    package var width: Int { levels.count }

    /// The level of quasi-identifier `column`.
    package subscript(column: Int) -> Int { levels[column] }

    /// The sum of the levels: the node's height in the lattice.
    package var height: Int { levels.reduce(0, +) }

    /// Whether no level is above `other`'s: `other`'s classes can be rolled up from this one's.
    package func isAtOrBelow(_ other: Transformation) -> Bool { zip(levels, other.levels).allSatisfy { $0 <= $1 } }

    /// The transformation with quasi-identifier `column` one level higher.
    package func raised(_ column: Int) -> Transformation {
        var levels = self.levels
        levels[column] += 1
        return Transformation(levels)
    }

    package var description: String { "(" + levels.map(String.init).joined(separator: ", ") + ")" }
}

/// Every transformation with quasi-identifier c at a level in 0...maxLevels[c], numbered in
/// mixed radix (the first quasi-identifier varies fastest): the walk works on these numbers.
struct Lattice {
    /// Per quasi-identifier, its number of levels.
    let radices: [Int]
    /// Per quasi-identifier, how much its level adds to a node's number.
    let strides: [Int]
    /// The number of nodes.
    let count: Int

    init(maxLevels: [Int]) {
        radices = maxLevels.map { $0 + 1 }
        var strides: [Int] = []
        var scale = 1
        for radix in radices {
            strides.append(scale)
            scale *= radix
        }
        self.strides = strides
        count = scale
    }

    var width: Int { radices.count }

    /// The most general transformation.
    var top: Transformation { Transformation(radices.map { $0 - 1 }) }

    /// The transformation of node `node`.
    func transformation(_ node: Int) -> Transformation {
        var rest = node
        return Transformation(
            radices.map { radix in
                defer { rest /= radix }
                return rest % radix
            })
    }

    /// The node of `transformation`.
    func node(of transformation: Transformation) -> Int {
        zip(transformation.levels, strides).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Calls `body` with each node one level higher than `node` in one quasi-identifier.
    @inline(__always) func forEachSuccessor(of node: Int, _ body: (Int) -> Void) {
        var rest = node
        for dimension in 0..<radices.count {
            let level = rest % radices[dimension]
            rest /= radices[dimension]
            if level + 1 < radices[dimension] { body(node + strides[dimension]) }
        }
    }

    /// Calls `body` with each node one level lower than `node` in one quasi-identifier.
    @inline(__always) func forEachPredecessor(of node: Int, _ body: (Int) -> Void) {
        var rest = node
        for dimension in 0..<radices.count {
            let level = rest % radices[dimension]
            rest /= radices[dimension]
            if level > 0 { body(node - strides[dimension]) }
        }
    }
}

/// The Flash walk over the lattice (Kohlmayer et al. 2012, as ARX implements it), for a
/// criterion that is monotone: when a node satisfies it, so does every node above it, and
/// when a node fails, so does every node below. Nodes are visited in the given order; from
/// each unclassified one a path climbs through unclassified successors (the lowest `priority`
/// first), and a binary search on the path finds where the criterion starts to hold. Each
/// check classifies all successors of a satisfying node and all predecessors of a failing one.
struct FlashWalk {
    enum State: UInt8 { case unknown, satisfied, failed }

    let lattice: Lattice
    private(set) var state: [State]

    init(lattice: Lattice) {
        self.lattice = lattice
        state = [State](repeating: .unknown, count: lattice.count)
    }

    /// Walks from every start of `order` that is still unclassified and that `mayStart`
    /// accepts; `check` decides a node (each node is checked at most once).
    mutating func run(order: [Int], priority: [Double], mayStart: (Int) -> Bool, check: (Int) -> Bool) {
        for start in order where state[start] == .unknown && mayStart(start) {
            var path = [start]
            var current = start
            while true {
                var next = -1
                lattice.forEachSuccessor(of: current) { candidate in
                    if state[candidate] == .unknown && (next < 0 || priority[candidate] < priority[next]) {
                        next = candidate
                    }
                }
                if next < 0 { break }
                path.append(next)
                current = next
            }
            var low = 0
            var high = path.count - 1
            while low <= high {
                let middle = (low + high) / 2
                let node = path[middle]
                if state[node] == .unknown { tag(node, check(node) ? .satisfied : .failed) }
                if state[node] == .satisfied { high = middle - 1 } else { low = middle + 1 }
            }
        }
    }

    /// Classifies `node`, and every node above it (satisfied) or below it (failed).
    private mutating func tag(_ node: Int, _ value: State) {
        var stack = [node]
        state[node] = value
        while let current = stack.popLast() {
            if value == .satisfied {
                lattice.forEachSuccessor(of: current) { neighbour in
                    if state[neighbour] == .unknown {
                        state[neighbour] = value
                        stack.append(neighbour)
                    }
                }
            } else {
                lattice.forEachPredecessor(of: current) { neighbour in
                    if state[neighbour] == .unknown {
                        state[neighbour] = value
                        stack.append(neighbour)
                    }
                }
            }
        }
    }
}
