import DeidTestSupport
import Testing

@testable import DeidKit

/// The lattice's numbering and the Flash walk, on their own: for any monotone criterion the
/// walk classifies every node as the criterion does, checking each node at most once.
@Suite struct LatticeTests {
    @Test func nodesAndTransformationsCorrespond() {
        let lattice = Lattice(maxLevels: [2, 0, 3])
        #expect(lattice.count == 3 * 1 * 4)
        #expect(lattice.top == Transformation([2, 0, 3]))
        for node in 0..<lattice.count {
            let transformation = lattice.transformation(node)
            #expect(lattice.node(of: transformation) == node)
            var successors: [Int] = []
            lattice.forEachSuccessor(of: node) { successors.append($0) }
            let expected = (0..<3).filter { transformation[$0] < [2, 0, 3][$0] }.map {
                lattice.node(of: transformation.raised($0))
            }
            #expect(successors == expected)
            for successor in successors {
                var predecessors: [Int] = []
                lattice.forEachPredecessor(of: successor) { predecessors.append($0) }
                #expect(predecessors.contains(node))
                #expect(transformation.isAtOrBelow(lattice.transformation(successor)))
            }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func flashWalkClassifiesEveryNodeOfAMonotoneCriterion(seed: UInt64) {
        var random = TestRandom(seed: seed)
        let maxLevels = (0..<Int.random(in: 1...4, using: &random)).map { _ in Int.random(in: 0...4, using: &random) }
        let lattice = Lattice(maxLevels: maxLevels)
        // Monotone: a node satisfies when its weighted height reaches a threshold.
        let weights = maxLevels.map { _ in Double.random(in: 0.5...2, using: &random) }
        let total = zip(weights, maxLevels).reduce(0) { $0 + $1.0 * Double($1.1) }
        let threshold = Double.random(in: 0...max(total, 0.1), using: &random)
        func satisfies(_ node: Int) -> Bool {
            zip(weights, lattice.transformation(node).levels).reduce(0) { $0 + $1.0 * Double($1.1) } >= threshold
        }
        let priority = (0..<lattice.count).map { _ in Double.random(in: 0...1, using: &random) }
        let order = (0..<lattice.count).sorted { lattice.transformation($0).height < lattice.transformation($1).height }
        var walk = FlashWalk(lattice: lattice)
        var checked = Set<Int>()
        walk.run(order: order, priority: priority, mayStart: { _ in true }) { node in
            #expect(checked.insert(node).inserted, "node \(node) checked twice")
            return satisfies(node)
        }
        for node in 0..<lattice.count {
            #expect(walk.state[node] == (satisfies(node) ? .satisfied : .failed), "\(lattice.transformation(node))")
        }
        #expect(checked.count <= lattice.count)
    }
}
