/// What every thread's validation shares and changes only on the slow path,
/// under `ValidatorCore`'s lock: the dependency graph, the findings, the
/// graph-search buffers, where usage bits were first set, and the threads'
/// names.
///
/// Invariant: only code holding the core's lock reaches a `SharedState`;
/// the fast path (a chain seen before, usage bits already set) never does.
struct SharedState: ~Copyable {
  var graph = DependencyGraph()
  var findings = FindingStore()
  var search = GraphSearch()
  /// Where each usage bit of a class was first set (`usage_traces`), keyed
  /// by `class * 16 + bit`.
  var usageOrigins: [Int: Origin] = [:]
  var threadTokens: [String] = []
  var threadNames: [String] = []

  func usageOrigin(_ id: ClassID, bit: UsageBit) -> Origin? {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)]
  }

  mutating func recordUsageOrigin(_ id: ClassID, bit: UsageBit, _ origin: Origin) {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)] = origin
  }
}
