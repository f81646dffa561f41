import WaitContext

/// The validator engine: consumes `LockEvent`s and records `Finding`s with
/// lockdep's semantics. It does not know whether events come from a trace
/// or a live program, so online and offline answers agree by construction.
///
/// Invariants:
/// - the fast path (an acquisition whose chain was seen before) does the
///   wait-context check and usage-bit tests only: no graph search and no
///   allocation once the thread's held-lock array has grown;
/// - the graph never gains an edge that closes a strong cycle;
/// - validation goes on after a finding: every distinct finding is kept.
public struct LockValidator: Sendable {
  public let configuration: CheckConfiguration
  public internal(set) var classes = ClassTable()
  public internal(set) var graph = DependencyGraph()
  public internal(set) var findings = FindingStore()
  /// Events processed so far.
  public private(set) var eventCount: Int64 = 0
  /// Thread names and tokens, by `ThreadID`.
  public private(set) var threadNames: [String] = []
  public private(set) var threadTokens: [String] = []
  public internal(set) var statistics = Statistics()

  var threads: [ThreadState] = []
  var chains = ChainCache()
  var search = GraphSearch()

  /// The most locks one thread may hold before its validation stops
  /// (lockdep's `MAX_LOCK_DEPTH` is 48; this limit only bounds memory).
  public static let maxHeldDepth = 1024

  /// Counters for benchmarks and the report footer.
  public struct Statistics: Sendable {
    public var acquisitions: Int64 = 0
    public var chainHits: Int64 = 0
    public var chainMisses: Int64 = 0
  }

  public init(configuration: CheckConfiguration = CheckConfiguration()) {
    self.configuration = configuration
  }

  // MARK: Declarations

  /// Declares a lock class.
  public mutating func declareClass(
    key: String, name: String? = nil, kind: LockKind, waits: ClassWaitTypes
  ) -> ClassID {
    classes.declare(key: key, name: name, kind: kind, waits: waits)
  }

  /// Declares a thread (or names one already known by `token`).
  public mutating func declareThread(token: String, name: String? = nil) -> ThreadID {
    let id = ThreadID(Int32(threads.count))
    threads.append(ThreadState())
    threadTokens.append(token)
    threadNames.append(name ?? "thread")
    return id
  }

  public mutating func nameThread(_ id: ThreadID, _ name: String) {
    threadNames[id.index] = name
  }

  /// lockdep's `comm/pid`.
  public func threadLabel(_ id: ThreadID) -> String {
    "\(threadNames[id.index])/\(threadTokens[id.index])"
  }

  /// The locks a thread holds now, oldest first.
  public func heldLocks(of thread: ThreadID) -> [HeldLock] { threads[thread.index].held }

  // MARK: Events

  /// Validates one event.
  /// - Throws: `EventError` when the event breaks the stream's own rules
  ///   (unbalanced contexts); the state is left as it was before the event.
  public mutating func process(_ event: LockEvent) throws(EventError) {
    var event = event
    event.origin.event = eventCount
    eventCount += 1
    let t = event.thread.index
    if threads[t].stopped {
      if event.verb == .exit { threads[t] = ThreadState() }
      return
    }
    switch event.verb {
    case .acquire: acquire(event)
    case .release: release(event)
    case .mightLock:
      acquire(event)
      popTopIfMatches(event)
    case .mightSleep: checkSleep(event, lock: nil)
    case .hardirqEnter: enterContext(.hardirq(threaded: event.threaded), event)
    case .softirqEnter: enterContext(.softirq, event)
    case .nmiEnter: enterContext(.nmi, event)
    case .hardirqExit: try exitContext(.hardirq(threaded: false), event)
    case .softirqExit: try exitContext(.softirq, event)
    case .nmiExit: try exitContext(.nmi, event)
    case .irqDisable: threads[t].irqDisableDepth += 1
    case .irqEnable: try enableIRQs(event)
    case .bhDisable: threads[t].bhDisableDepth += 1
    case .bhEnable: try enableBottomHalves(event)
    case .preemptDisable: threads[t].preemptDisableDepth += 1
    case .preemptEnable:
      guard threads[t].preemptDisableDepth > 0 else {
        throw EventError("preempt-enable without preempt-disable")
      }
      threads[t].preemptDisableDepth -= 1
    case .initLock: checkFreed(event, reinitialized: true)
    case .free: checkFreed(event, reinitialized: false)
    case .exit: exitThread(event)
    }
  }

  // MARK: Recording findings

  /// A snapshot of the held locks of a thread.
  func heldSnapshot(_ t: Int) -> [LockSnapshot] { threads[t].held.map(snapshot) }

  /// lockdep's `[HC%u[%lu]:SC%u[%lu]:HE%u:SE%u]`.
  func irqState(_ t: Int) -> String {
    let s = threads[t]
    let hc = s.hardirqDepth > 0 ? 1 : 0
    let sc = s.softirqDepth > 0 ? 1 : 0
    return
      "HC\(hc)[\(s.hardirqDepth)]:SC\(sc)[\(s.softirqDepth)]:HE\(s.hardirqsOff ? 0 : 1):SE\(s.softirqsEnabled ? 1 : 0)"
  }

  mutating func report(
    _ kind: FindingKind, thread t: Int, origin: Origin, lock: LockSnapshot?,
    detail: FindingDetail, classes related: [ClassID]
  ) {
    var lock = lock
    if let c = lock?.lockClass { lock?.usage = classes[c].usage }
    let held = heldSnapshot(t)
    let finding = Finding(
      kind: kind, thread: ThreadID(Int32(t)), origin: origin, lock: lock,
      held: held, detail: detail, count: 1, irqState: irqState(t))
    findings.record(finding, classes: related)
  }
}

extension LockValidator {
  /// A held lock as a finding shows it, with its class's usage bits now.
  func snapshot(_ held: HeldLock) -> LockSnapshot {
    var s = LockSnapshot(held)
    s.usage = classes[held.lockClass].usage
    return s
  }
}
