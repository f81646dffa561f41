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
  /// Each registered thread's token, by `ThreadID.index`.
  var threadTokens: [String] = []
  /// The names of the threads that have one (lockdep's `comm`), by
  /// `ThreadID.index`; the others are called `defaultThreadName`. Kept
  /// apart: a trace with a thread per task rarely names them all.
  var threadNames: [Int32: String] = [:]
  /// What a thread without a name is called.
  static let defaultThreadName = "thread"

  /// The name of thread `id`.
  func threadName(_ id: ThreadID) -> String { threadNames[id.raw] ?? Self.defaultThreadName }

  func usageOrigin(_ id: ClassID, bit: UsageBit) -> Origin? {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)]
  }

  mutating func recordUsageOrigin(_ id: ClassID, bit: UsageBit, _ origin: Origin) {
    usageOrigins[id.index &* 16 &+ Int(bit.rawValue)] = origin
  }
}
