import Basics
import Synchronization
import WaitContext

/// The state that every validating thread shares: lock classes, the chain
/// cache, and (behind one lock) the dependency graph and the findings.
///
/// A `ThreadValidator` per thread (a live thread, or a trace's thread
/// driven by the reader) validates that thread's events against one core.
/// The split is what lets many threads validate at once:
/// - reading classes and the chain cache takes no lock and writes nothing;
/// - the graph, the findings and the thread names change only under
///   `shared`'s lock, on the slow path (a new chain, a new usage bit, a
///   finding);
/// - each occurrence of a finding is handed to `onFinding` (with whether it
///   is a new distinct one), outside the lock, on the thread that found it.
///
/// A fork (`fork()`) starts from a copy of a core's graph and usage and
/// then learns apart from it: what a test that expects a finding teaches
/// the validator stays in its fork. A fork shares its base's classes and
/// threads.
public final class ValidatorCore: Sendable {
  /// The kernel configuration the checks emulate.
  public let configuration: CheckConfiguration
  /// Every lock class.
  public let classes: ClassRegistry
  /// Chain keys validated before.
  public let chains: ChainCache
  let shared: PThreadMutex<SharedState>
  let onFinding: (@Sendable (Finding, _ isNew: Bool) -> Void)?
  /// The core whose threads a fork shares; nil for a base core.
  private let base: ValidatorCore?
  /// Locks live threads forgot (`forget`): a base core's, which its forks
  /// use (`threadOwner`).
  private let ownForgotten = ForgottenLocks()
  /// The forgotten locks of this core's threads.
  var forgotten: ForgottenLocks { threadOwner.ownForgotten }

  /// The class of PREEMPT_RT's `local_bh` map, which `bh-disable` takes
  /// (`ThreadValidator.Statistics.localBottomHalfTakings`), once a thread
  /// took it; nil before. (A class a trace declared with its key and
  /// other wait types is not it: the validator declared its own.)
  public var localBottomHalfClass: ClassID? {
    (0..<classes.count).last { i in
      let c = classes[ClassID(Int32(i))]
      return c.key == LocalBottomHalf.key && c.waits == LocalBottomHalf.waits
        && c.subclass == 0
    }.map { ClassID(Int32($0)) }
  }

  /// A core for `configuration`, with a chain cache of `chainCacheBytes`
  /// and an optional callback for each occurrence of a finding.
  public init(
    configuration: CheckConfiguration = CheckConfiguration(),
    chainCacheBytes: Int = ChainCache.defaultBytes,
    onFinding: (@Sendable (Finding, _ isNew: Bool) -> Void)? = nil
  ) {
    self.configuration = configuration
    self.classes = ClassRegistry(configuration: configuration)
    self.chains = ChainCache(bytes: chainCacheBytes)
    self.shared = PThreadMutex(SharedState())
    self.onFinding = onFinding
    self.base = nil
  }

  private init(
    forking core: ValidatorCore, chainCacheBytes: Int,
    onFinding: (@Sendable (Finding, _ isNew: Bool) -> Void)?
  ) {
    let root = core.base ?? core
    configuration = core.configuration
    chains = ChainCache(bytes: chainCacheBytes)
    self.onFinding = onFinding ?? core.onFinding
    base = root
    // Usage is copied under the core's lock, with the graph and the
    // origins, so the fork starts from one consistent state.
    let (overlay, graph, origins) = core.shared.withLock { s in
      (ClassRegistry(overlaying: core.classes), s.graph, s.usageOrigins)
    }
    classes = overlay
    var state = SharedState()
    state.graph = graph
    state.usageOrigins = origins
    shared = PThreadMutex(state)
  }

  /// A fork of this core: its graph, usage bits and where they were set,
  /// copied now; no findings and an empty chain cache of `chainCacheBytes`.
  /// Events validated against the fork change nothing here, and events
  /// validated here afterwards change nothing in the fork. Classes and
  /// threads are shared (registered through this core). Findings go to
  /// `onFinding`, or when it is nil to this core's callback.
  public func fork(
    chainCacheBytes: Int = 64 << 10,
    onFinding: (@Sendable (Finding, _ isNew: Bool) -> Void)? = nil
  ) -> ValidatorCore {
    ValidatorCore(forking: self, chainCacheBytes: chainCacheBytes, onFinding: onFinding)
  }

  // MARK: Threads

  /// The core that keeps the threads' tokens and names: this one, or the
  /// one a fork was made from.
  private var threadOwner: ValidatorCore { base ?? self }

  /// Registers a thread: `token` is its id in a trace (or its system id),
  /// `name` what reports call it (lockdep's `comm`).
  public func registerThread(token: String, name: String? = nil) -> ThreadID {
    threadOwner.shared.withLock { s in
      s.threadTokens.append(token)
      let id = ThreadID(Int32(s.threadTokens.count - 1))
      if let name, !name.isEmpty { s.threadNames[id.raw] = name }
      return id
    }
  }

  /// Gives a registered thread a name for reports; an empty one is none
  /// (the thread is then called `thread`, as one never named).
  public func nameThread(_ id: ThreadID, _ name: String) {
    threadOwner.shared.withLock { $0.threadNames[id.raw] = name.isEmpty ? nil : name }
  }

  /// The thread's token (trace id or system id).
  public func threadToken(_ id: ThreadID) -> String {
    threadOwner.shared.withLock { $0.threadTokens[id.index] }
  }

  /// The thread's name.
  public func threadName(_ id: ThreadID) -> String {
    threadOwner.shared.withLock { $0.threadName(id) }
  }

  /// Keeps `locks`, which a live thread reported held and forgot (a task
  /// left them held at an `await`, a test ended holding them), so that
  /// their release later, on any thread, is no bad unlock balance
  /// (`ForgottenLocks`, the newest 64; a fork's are its base's).
  public func forget(_ locks: some Sequence<HeldLock>) {
    forgotten.add(locks)
  }

  /// Whether a release of `lockClass` (a declared class) at `instance`
  /// would be of a lock a live thread forgot (`forget(_:)`).
  public func isForgotten(_ lockClass: ClassID, instance: UInt64) -> Bool {
    let tables = classes.tables
    return forgotten.contains(lockClass, instance: instance, base: { tables.base($0) })
  }

  /// lockdep's `comm/pid`; a name that already ends in `/pid` (a trace's
  /// `thread 1 name=kworker/1`, as reports.md's example names it) is the
  /// label as it is, not `kworker/1/1`.
  public func threadLabel(_ id: ThreadID) -> String {
    threadOwner.shared.withLock {
      let name = $0.threadName(id)
      let suffix = "/" + $0.threadTokens[id.index]
      return name.hasSuffix(suffix) ? name : name + suffix
    }
  }

  // MARK: What was found

  /// Every distinct finding so far, in the order first seen.
  public var findings: [Finding] { shared.withLock { $0.findings.findings } }

  /// The findings with their counts, as a store (a copy).
  public var findingStore: FindingStore { shared.withLock { $0.findings } }

  /// Keeps `finding`, which a fork of this core found for an owner that
  /// can no longer take it (a test's scope that ended while a thread it
  /// started still ran): stored here as one of this core's own, keyed as
  /// the fork's store keyed it (so that the same bug found here too is one
  /// finding, counted), and handed to `onFinding` with whether it is new
  /// here.
  public func adopt(_ finding: Finding) {
    let classes =
      finding.storeClasses.isEmpty
      ? (finding.lock.map { [$0.lockClass] } ?? []) + finding.held.map(\.lockClass)
      : finding.storeClasses
    let (kept, isNew) = shared.withLock { $0.findings.record(finding, classes: classes) }
    onFinding?(kept, isNew)
  }

  /// A copy of the dependency graph as it is now.
  public var graph: DependencyGraph { shared.withLock { $0.graph } }

  /// Dependencies (edges) recorded so far.
  public var dependencyCount: Int { shared.withLock { $0.graph.edges.count } }

  /// Ranks `classes` in the graph's topological order ahead of the edges
  /// `seedDependency` will add (a graph file's order, its classes sorted
  /// topologically): seeding then neither reorders nor searches, whatever
  /// order the edges come in, and the edges keep that order, which the
  /// searches follow (as lockdep's, they visit a class's edges in the
  /// order they were added, and which path they find depends on it).
  public func presetOrder(_ classes: [ClassID]) {
    shared.withLock { $0.graph.presetOrder(classes) }
  }

  /// Adds the dependency `from -> to` with `kinds` before any event is
  /// validated, as recorded by an earlier run (a graph file): later
  /// acquisitions that close a cycle through it are reported, with
  /// `origin` as where it came from. Both classes must be registered; a
  /// class depends on itself as lockdep lets it (a recursive read under a
  /// read: no strong cycle).
  /// - Returns: false, adding nothing, when the dependency would close a
  ///   strong cycle with the edges already there (a graph file that the
  ///   validator could not have written).
  @discardableResult
  public func seedDependency(
    from: ClassID, to: ClassID, kinds: DependencyKinds, origin: Origin
  ) -> Bool {
    if kinds.isEmpty { return true }
    let tables = classes.tables
    return shared.withLock { s in
      // Each recorded kind as the event that added it checked it: one
      // event's dependency has one kind, so the kinds are never combined
      // (SN and ER together are no EN: `E -(SR)-> D -(SN)-> E` and
      // `D -(ER)-> E -(SR)-> D` are both weak, and a clean trace wrote
      // `D -> E kinds=SN,ER` beside `E -> D kinds=SR`). Every kind is
      // searched: lockdep's search marks a class visited by its first
      // path, strong or not, so a search that lets more edges through (EN
      // against ER) may miss what a narrower one finds.
      if s.graph.mayReach(from: to, to: from) {
        for bit in 0..<4 {
          let kind = DependencyKinds(rawValue: 1 << UInt8(bit))
          guard kinds.contains(kind) else { continue }
          let prevRead: ReadMode = kind.isDisjoint(with: .fromShared) ? .exclusive : .shared
          if s.search.run(
            graph: s.graph, classes: tables, from: to, direction: .forward,
            rootOnlyRecursive: kind.isDisjoint(with: .toNonRecursive), skipIrqUsageExempt: false,
            goal: .conflict(target: from, targetRead: prevRead)) != nil
          {
            return false
          }
        }
      }
      s.graph.add(
        from: from, to: to, kinds: kinds, origin: origin, thread: ThreadID(-1),
        skipsIrqUsage: tables.skipsIrqUsage)
      return true
    }
  }

  /// Where `bit` was first set on class `id`.
  public func usageOrigin(_ id: ClassID, bit: UsageBit) -> Origin? {
    shared.withLock { $0.usageOrigin(id, bit: bit) }
  }
}
