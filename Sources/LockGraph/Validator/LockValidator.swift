import WaitContext

/// The validator of one event stream (a trace): a `ValidatorCore` and one
/// `ThreadValidator` per thread of the stream, driven in stream order.
///
/// It consumes `LockEvent`s and records `Finding`s with lockdep's
/// semantics. A live program runs the same `ThreadValidator` code on its own
/// threads against one core, so online and offline answers agree by
/// construction.
///
/// Invariants:
/// - the fast path (an acquisition whose chain was seen before) does the
///   wait-context check and usage-bit tests only: no graph search, no lock
///   and no allocation once the thread's held-lock array has grown;
/// - the graph never gains an edge that closes a strong cycle;
/// - validation goes on after a finding: every distinct finding is kept.
public struct LockValidator {
  /// The shared state: classes, chain cache, graph, findings.
  public let core: ValidatorCore
  /// Events processed so far (an event that throws is not counted).
  public private(set) var eventCount: Int64 = 0
  /// The thread validators, by slot (`pool`): no more than the threads
  /// alive at once, since an exited thread's slot is taken again, and the
  /// threads declared while a batch waits (a reader declares a thread
  /// before the events read ahead of it are validated: their exits give
  /// slots back only then), so at most about a batch's worth more.
  var threads: [ThreadValidator] = []
  /// Which slot validates which thread, the slots that may hold locks, and
  /// what exited threads counted.
  var pool = ThreadSlots()

  /// A validator for `configuration`, with a chain cache of `chainCacheBytes`.
  public init(
    configuration: CheckConfiguration = CheckConfiguration(),
    chainCacheBytes: Int = ChainCache.offlineBytes
  ) {
    core = ValidatorCore(configuration: configuration, chainCacheBytes: chainCacheBytes)
  }

  /// The most locks one thread may hold before its validation stops.
  public static var maxHeldDepth: Int { ThreadValidator.maxHeldDepth }

  /// The kernel configuration the checks emulate.
  public var configuration: CheckConfiguration { core.configuration }

  /// Every lock class.
  public var classes: ClassRegistry { core.classes }

  /// A copy of the dependency graph as it is now.
  public var graph: DependencyGraph { core.graph }

  /// Every distinct finding, in the order first seen, with counts.
  public var findings: FindingStore { core.findingStore }

  /// `FindingStore.fold(recordedSince:into:key:)` on this validator's
  /// findings; returns how many findings are kept after it.
  @discardableResult
  public func foldFindings(
    recordedSince start: Int, into keys: inout [[String]: Int],
    key: (Finding) -> (identity: [String], alias: [String]?)?
  ) -> Int {
    core.shared.withLock {
      $0.findings.fold(recordedSince: start, into: &keys, key: key)
      return $0.findings.count
    }
  }

  /// The counters of every thread, added up.
  public var statistics: ThreadValidator.Statistics {
    threads.reduce(into: pool.retired) { $0.add($1.statistics) }
  }

  // MARK: Declarations

  /// Declares a lock class; `.none` when the class table is full (events
  /// that name it are then refused).
  public mutating func declareClass(
    key: String, name: String? = nil, kind: LockKind, waits: ClassWaitTypes
  ) -> ClassID {
    core.classes.declare(key: key, name: name, kind: kind, waits: waits) ?? .none
  }

  /// Declares a new thread, whose events are then validated on their own
  /// held-lock stack. `token` is its id in the stream.
  public mutating func declareThread(token: String, name: String? = nil) -> ThreadID {
    let id = core.registerThread(token: token, name: name)
    // A slot (and its validator, about 1 KB) only with the thread's first
    // event: a trace may declare millions of threads that never take a
    // lock (`thread` lines), which would hold one each.
    pool.declare(id)
    return id
  }

  /// Gives thread `id` a slot: its own, one an exited or idle thread gave
  /// back (`ThreadSlots.parkIdle(threads:)`, when the slots are full), or a
  /// new one.
  @discardableResult
  mutating func makeSlot(for id: ThreadID) -> Int {
    if let s = threads.withUnsafeMutableBufferPointer({ pool.slot(for: id, threads: $0) }) {
      return s
    }
    if threads.count >= pool.nextParking {
      threads.withUnsafeMutableBufferPointer { pool.parkIdle(threads: $0) }
      if let s = threads.withUnsafeMutableBufferPointer({ pool.slot(for: id, threads: $0) }) {
        return s
      }
    }
    var validator = ThreadValidator(core: core, thread: id, live: false)
    pool.unpark(id, into: &validator)
    pool.adopt(id, slot: threads.count)
    threads.append(validator)
    return threads.count - 1
  }

  /// The validator of thread `id`, nil when it exited (and had no event
  /// since).
  func validator(of id: ThreadID) -> ThreadValidator? {
    guard id.index >= 0 && id.index < pool.slots.count else { return nil }
    let s = pool.slots.base[id.index]
    return s == ThreadSlots.vacant ? nil : threads[Int(s)]
  }

  /// Names a declared thread for reports.
  public mutating func nameThread(_ id: ThreadID, _ name: String) { core.nameThread(id, name) }

  /// lockdep's `comm/pid`.
  public func threadLabel(_ id: ThreadID) -> String { core.threadLabel(id) }

  /// The most locks one thread held at once so far, and that thread (the
  /// first to hold that many); nil before any acquisition.
  public var deepestHeldStack: (depth: Int, thread: ThreadID)? {
    var best = pool.retiredDeepest
    for v in threads where v.deepest.event >= 0 {
      best = ThreadSlots.deeper(best, (v.deepest.count, v.deepest.event, v.thread))
    }
    return best.map { ($0.count, $0.thread) }
  }

  /// The locks a thread holds now, oldest first.
  public func heldLocks(of thread: ThreadID) -> [HeldLock] {
    validator(of: thread)?.heldLocks ?? []
  }

  // MARK: Events

  /// Validates one event, numbering it (`Origin.event`) in stream order.
  /// `free` and `init` check the held locks of every thread.
  /// - Throws: `EventError` when the event breaks the stream's own rules
  ///   (contexts that do not nest, an enable without a disable); such an
  ///   event changes nothing and is not counted.
  public mutating func process(_ event: LockEvent) throws(EventError) {
    var number = eventCount
    var failure: EventError? = nil
    precondition(
      event.thread.index >= 0 && event.thread.index < pool.slots.count,
      "an event of an undeclared thread")
    makeSlot(for: event.thread)
    var pool = takePool()
    threads.withUnsafeMutableBufferPointer { threads in
      do throws(EventError) {
        try Self.validate(event, number: &number, threads: threads, pool: &pool)
      } catch {
        failure = error
      }
    }
    self.pool = pool
    if let failure { throw failure }
    eventCount = number
  }

  /// Validates `events` in order, as many `process(_:)` calls would, with
  /// the per-event work of reaching the thread's validator done once.
  /// - Returns: nil, or the index of the first event refused (the events
  ///   after it are not processed) and why.
  public mutating func process(_ events: UnsafeBufferPointer<LockEvent>) -> (
    index: Int, error: EventError
  )? {
    precondition(core.onFinding == nil, "a finding callback must run outside the core's lock")
    // Every event before a refused one is accepted: event `index` is
    // numbered `firstNumber + index`.
    let firstNumber = eventCount
    var start = 0
    while true {
      switch processBatch(events, from: start, firstNumber: firstNumber) {
      case .done:
        eventCount = firstNumber &+ Int64(events.count)
        return nil
      case .refused(let index, let error):
        eventCount = firstNumber &+ Int64(index)
        return (index, error)
      case .needsSlot(let index):
        // An exited thread's next event, and no slot given back to take:
        // the validators grow outside the batch's borrow of them.
        makeSlot(for: events[index].thread)
        start = index
      }
    }
  }

  /// How `processBatch` ended.
  enum BatchEnd {
    /// Every event was accepted.
    case done
    /// Event `index` was refused; those before it were accepted.
    case refused(Int, EventError)
    /// Event `index` is of a thread that needs a new slot; those before
    /// it were accepted.
    case needsSlot(Int)
  }

  /// `process(_:)` of `events[start...]`, numbered from `firstNumber` at
  /// `events[0]`.
  private mutating func processBatch(
    _ events: UnsafeBufferPointer<LockEvent>, from start: Int, firstNumber: Int64
  ) -> BatchEnd {
    var pool = takePool()
    defer { self.pool = pool }
    // No thread is declared during the batch: the map stays where it is.
    let slots = UnsafeBufferPointer(start: pool.slots.base, count: pool.slots.count)
    // The core's lock is taken once for the batch, not once per new chain:
    // this validator is the core's only driver, and its core has no
    // finding callback to call outside the lock.
    return core.shared.withLock { shared in
      withUnsafeMutablePointer(to: &shared) { shared in
        threads.withUnsafeMutableBufferPointer { threads in
          guard let first = events.baseAddress else { return .done }
          for index in start..<events.count {
            let number = firstNumber &+ Int64(index)
            // The common events are read in place, field by field: copying a
            // whole event first costs more than what most of them need.
            if Self.validateInPlace(
              first + index, number: number, slots: slots, threads: threads,
              unindexed: &pool.unindexed, shared: shared)
            {
              continue
            }
            if let end = Self.validateInFull(
              first + index, index: index, number: number, threads: threads, pool: &pool,
              shared: shared)
            {
              return end
            }
          }
          return .done
        }
      }
    }
  }

  /// `processBatch`'s event `index`, numbered `number`, that
  /// `validateInPlace` did not take: validated in full. Returns nil when
  /// it was accepted, else how the batch ends. Out of line: inlined, its
  /// calls made the batch's loop keep its values on the stack, reloaded
  /// for every event.
  @inline(never)
  static func validateInFull(
    _ event: UnsafePointer<LockEvent>, index: Int, number: Int64,
    threads: UnsafeMutableBufferPointer<ThreadValidator>, pool: inout ThreadSlots,
    shared: UnsafeMutablePointer<SharedState>
  ) -> BatchEnd? {
    let thread = event.pointee.thread
    precondition(
      thread.index >= 0 && thread.index < pool.slots.count, "an event of an undeclared thread")
    guard pool.slot(for: thread, threads: threads) != nil else { return .needsSlot(index) }
    var next = number
    do throws(EventError) {
      try validate(event.pointee, number: &next, threads: threads, pool: &pool, shared: shared)
    } catch {
      return .refused(index, error)
    }
    return nil
  }

  /// One event on the thread validators: numbered `number`, which counts
  /// up when the event is accepted. The event's thread has a slot.
  @inline(__always)
  static func validate(
    _ event: LockEvent, number: inout Int64, threads: UnsafeMutableBufferPointer<ThreadValidator>,
    pool: inout ThreadSlots, shared: UnsafeMutablePointer<SharedState>? = nil
  ) throws(EventError) {
    let t = Int(pool.slots.base[event.thread.index])
    precondition(t >= 0 && t < threads.count, "an event of a thread without a slot")
    if event.lockClass == .none && namesClass(event.verb) {
      // A class declared past the class table's capacity (lockdep's
      // MAX_LOCKDEP_KEYS): its acquisitions and might-locks (which go
      // through lock_acquire() in the kernel) are a limit-exceeded finding
      // and not validated, and its other events are left with them (a
      // release of a lock never pushed would be an imbalance); validation
      // goes on for everything else (spec/reports.md).
      if event.verb == .acquire || event.verb == .mightLock, !threads[t].state.stopped {
        var origin = event.origin
        origin.event = number
        threads[t].heldShared = shared
        threads[t].reportClassTableFull(origin)
        threads[t].heldShared = nil
        threads[t].deliverPending()
      }
      number += 1
      return
    }
    var event = event
    event.origin.event = number
    // Set around this event only: the slow path uses the lock the caller
    // holds (nil: it takes the lock itself).
    threads[t].heldShared = shared
    defer { threads[t].heldShared = nil }
    try threads[t].process(event)
    if event.verb == .acquire {
      threads[t].noteDepth(event: number)
      listUnindexed(t, threads: threads, unindexed: &pool.unindexed)
    }
    number += 1
    if event.verb == .exit {
      pool.retire(t, threads: threads)
    } else if event.verb == .free || event.verb == .initLock {
      // The other threads holding a lock in the memory, in thread order (as
      // findings are reported): those the pages it covers list, once the
      // threads that acquired since the last free or init are indexed.
      var hit = pool.heldAddresses.holders(
        from: event.address, length: event.freedLength, excluding: t, threads: threads,
        indexingFirst: &pool.unindexed)
      // Memory is one process's: where traces of several processes are
      // validated together (`report --merge` tags each event with its
      // trace), a thread of another trace holds no lock in this memory
      // (a holder's locks are all of its own trace).
      hit.removeAll { threads[$0].state.held[0].origin.trace != event.origin.trace }
      hit.sort { threads[$0].thread.raw < threads[$1].thread.raw }
      for other in hit {
        let held = threads[other].state.held
        threads[t].checkFreed(event, held: held, by: threads[other].thread)
        threads[other].heldShared = shared
        // Found at the free's place in the trace, without its stack or
        // call site: they are the freeing thread's, not the holder's.
        threads[other].dropFreed(
          from: event.address, length: event.freedLength,
          at: Origin(line: event.origin.line, event: event.origin.event, trace: event.origin.trace))
        threads[other].heldShared = nil
      }
    }
  }

  /// Lists thread `t`, which just acquired a lock, in `unindexed`.
  @inline(__always)
  static func listUnindexed(
    _ t: Int, threads: UnsafeMutableBufferPointer<ThreadValidator>, unindexed: inout [Int]
  ) {
    if !threads[t].awaitsIndex {
      threads[t].awaitsIndex = true
      unindexed.append(t)
    }
  }

  /// `pool`, moved out (and put back by the caller) so that it is
  /// changed in place while `threads` is borrowed.
  private mutating func takePool() -> ThreadSlots {
    let taken = pool
    pool = ThreadSlots(slots: taken.slots)
    return taken
  }

  /// Acquisitions and releases, read where they lie: the fast paths
  /// (`ThreadValidator.acquireInBatch`, and `ThreadValidator.releaseTop` for
  /// the release of the newest lock) read only the fields they need, and
  /// an event they do not take goes to the full path from here (an
  /// acquisition without its fast path being tried again; `release(_:)`
  /// tests the newest lock again, which costs a few loads); and the
  /// context events `ThreadValidator.processQuietContextEvent` finds
  /// quiet. Returns false, having changed nothing, for any other event (of
  /// a thread whose validation stopped or that exited, of no class, a
  /// context event that is not quiet), which `validate` then takes in
  /// full.
  @inline(__always)
  static func validateInPlace(
    _ event: UnsafePointer<LockEvent>, number: Int64, slots: UnsafeBufferPointer<Int32>,
    threads: UnsafeMutableBufferPointer<ThreadValidator>, unindexed: inout [Int],
    shared: UnsafeMutablePointer<SharedState>
  ) -> Bool {
    let verb = event.pointee.verb
    guard verb.rawValue <= Self.lastInPlaceVerb.rawValue else { return false }
    let lockClass = event.pointee.lockClass
    let id = event.pointee.thread.index
    // One unsigned comparison for `0 <= id < slots.count`.
    guard UInt(bitPattern: id) < UInt(bitPattern: slots.count) else { return false }
    // A vacant slot (-1) fails the test as a negative index.
    let t = Int(slots[id])
    guard t >= 0, !threads[t].state.stopped else { return false }
    if verb.rawValue >= LockEvent.Verb.hardirqEnter.rawValue {
      return threads[t].processQuietContextEvent(event, number: number)
    }
    guard lockClass != .none, verb == .acquire || verb == .release else { return false }
    if verb == .release {
      if threads[t].releaseTop(lockClass, instance: event.pointee.address) { return true }
    } else if event.pointee.subclass == 0, event.pointee.nest == .none,
      !event.pointee.isTrylock
    {
      let taken = threads[t].acquireInBatch(
        lockClass, instance: event.pointee.address, read: event.pointee.read, event: event,
        number: number, in: shared)
      if taken != .declined {
        threads[t].counters.acquisitions &+= 1
        if taken == .cached {
          threads[t].counters.chainHits &+= 1
        } else {
          threads[t].counters.chainMisses &+= 1
        }
        threads[t].noteDepth(event: number)
        listUnindexed(t, threads: threads, unindexed: &unindexed)
        return true
      }
    }
    processInFull(event, number: number, t, threads: threads, unindexed: &unindexed, shared: shared)
    return true
  }

  /// `validateInPlace` of an acquisition or release its fast paths did
  /// not take, on thread slot `t` (validated): `ThreadValidator.processInFull`.
  /// Out of line, as the calls in it are, so that the batch's loop keeps
  /// its values in registers across the common events.
  @inline(never)
  static func processInFull(
    _ event: UnsafePointer<LockEvent>, number: Int64, _ t: Int,
    threads: UnsafeMutableBufferPointer<ThreadValidator>, unindexed: inout [Int],
    shared: UnsafeMutablePointer<SharedState>
  ) {
    threads[t].heldShared = shared
    threads[t].processInFull(event.pointee, number: number)
    threads[t].heldShared = nil
    if event.pointee.verb == .acquire {
      threads[t].noteDepth(event: number)
      listUnindexed(t, threads: threads, unindexed: &unindexed)
    }
  }

  /// The verbs `validateInPlace` takes: acquisitions and releases (and
  /// might-locks and might-sleeps, which it leaves), and the contexts'
  /// verbs from `hardirqEnter` on (`LockEvent.Verb`'s order).
  static let lastInPlaceVerb = LockEvent.Verb.preemptEnable

  static func namesClass(_ verb: LockEvent.Verb) -> Bool {
    switch verb {
    case .acquire, .release, .mightLock, .initLock: true
    default: false
    }
  }
}
