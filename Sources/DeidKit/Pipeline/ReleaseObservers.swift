import DeidEngine

/// What a publish watches while the transform pass writes the release, composed by `Publisher`
/// from what the release needs. The plan (the policy compiled against the header) knows none of
/// it: a pass without observers (`deid apply`, a shard) only transforms.
struct ReleaseObservers: Sendable {
    /// The input's values of the changed columns: the report's "before" charts.
    var inputDistributions: DistributionRequest?
    /// The release's risk, counted on the output fields as the pass writes them (record-by-record
    /// and aggregating plans).
    var releaseRisk: ReleaseRiskPlan?
    /// A privacy run's release risk, counted in pass 2 as the spooled lines are copied.
    var privacyReleaseRisk: RiskSpec?
    /// The output fields besides the quasi-identifiers that pass 1 notes in each spool frame, for
    /// `privacyReleaseRisk` to find them in pass 2.
    var measuredOutputs: [Int] = []
    /// The catalog's sketches of the release, keyed from the output fields as they are written.
    var releaseSketch: LinkRequest?
    /// An aggregating pass notes the entities it wrote rows of (a shard's, `ScaleOut`).
    var collectsEntities = false
}

/// What one block gave the observers (each nil when the run does not observe it).
struct ObservedBlock: Sendable {
    var distributions: DistributionCounter?
    var releaseCounts: RiskCounts?
    var sketchCounts: LinkBlockCounts?
}

/// The observers over one run: the state each worker keeps from block to block (the sketches
/// and their shared cut-offs), the blocks' parts merged in input order, and the results.
final class Observation: @unchecked Sendable {
    let observers: ReleaseObservers
    /// The input's distributions, once the run is done.
    let inputDistributions = DistributionCollector()
    /// The release's counts made as it is written (`releaseRisk`).
    let releaseMerger: RiskMerger?
    /// A privacy run's release counts, made in pass 2 (`privacyReleaseRisk`).
    var privacyReleaseCounts: RiskData?
    /// The entities an aggregating pass wrote rows of (`collectsEntities`), by input value.
    var entities = Set<[UInt8]>()
    /// The release's sketches: one state per block in flight (the aggregating pass uses the
    /// first), their blocks' counts merged in order, their cut-offs shared.
    let sketchStates: [LinkWorkerState]
    let sketchMerger: LinkMerger?
    let sketchBounds: SketchBounds?

    init(_ observers: ReleaseObservers, blocksInFlight: Int) {
        self.observers = observers
        releaseMerger = observers.releaseRisk.map {
            RiskMerger(spec: $0.spec, layout: $0.layout, columns: $0.layout.columns)
        }
        let states =
            observers.releaseSketch.map { request in (0..<blocksInFlight).map { _ in LinkWorkerState(request: request) }
            }
            ?? []
        sketchStates = states
        sketchMerger = observers.releaseSketch.map { LinkMerger(request: $0, name: "<release>") }
        sketchBounds = states.first.map { SketchBounds($0.counter.cutoffs) }
    }

    /// Takes a block's parts, in input order.
    func merge(_ block: ObservedBlock, place: BlockPlace) {
        inputDistributions.merge(block.distributions)
        releaseMerger?.add(
            block.releaseCounts, input: place.input, lineBase: place.lineBase, recordBase: place.recordBase)
        if let counts = block.sketchCounts { sketchMerger?.add(counts) }
    }

    /// The release's counts, once the run is done: as written, or as pass 2 copied them.
    func releaseCounts(summary: RunSummary) -> RiskData? {
        releaseMerger?.finish(summary: summary) ?? privacyReleaseCounts
    }

    /// The release's sketches, once the run is done (nil when it is not sketched). The workers'
    /// sketches are merged into the result and let go (a wide release's take tens of MB, and
    /// the publish goes on to sample the written data).
    func releaseSketches(records: Int) -> LinkSide? {
        let side = sketchMerger?.finish(records: records, counters: sketchStates.map(\.counter))
        for state in sketchStates { state.release() }
        return side
    }
}
