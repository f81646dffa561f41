import WaitContext

extension ThreadValidator {
  /// What `acquireInBatch` did with an acquisition.
  enum BatchAcquisition {
    /// Taken: its chain was in the cache.
    case cached
    /// Taken: its chain was new, and validated over known dependencies.
    case validated
    /// Not taken, nothing changed: `acquire` must run in full.
    case declined
  }

  /// `acquireFast` for a trace's validator holding the core's lock (`s`),
  /// with a path between the fast one and the full one: an acquisition the
  /// fast path would take but for its chain, which is not in the cache,
  /// and whose chain adds no dependency the graph does not hold already
  /// with its kind, each checked since the graph last changed
  /// (`DependencyGraph.isChecked`). Validating such a chain finds nothing
  /// and changes only the cache, so it is done here, inline: the recursion
  /// check (the class is not held), one lookup per dependency, and the
  /// cache insert. Anything else is declined, changing nothing: `acquire`
  /// then runs in full.
  ///
  /// It makes the state change `acquire` would make; the counters are the
  /// caller's. A trace's validator keeps no `ChainMemo`
  /// (`remembersChains`): the chain cache alone decides which
  /// acquisitions count as chain hits, here and in `acquireFast`.
  ///
  /// A new chain is `acquireInBatchNewChain`'s, out of line: without it in
  /// its body, this one is inlined into the batch's loop as its attribute
  /// asks (with it, the optimizer left a call, whose prologue, epilogue and
  /// origin passed on the stack cost about 25 instructions an acquisition).
  /// The origin is `event`'s, numbered `number`: read from the event where
  /// the lock is pushed (an origin passed by value is loaded before the
  /// chain cache's probe and kept on the stack across it).
  @inline(__always)
  mutating func acquireInBatch(
    _ cls: ClassID, instance: UInt64, read: ReadMode, event: UnsafePointer<LockEvent>,
    number: Int64, in s: UnsafeMutablePointer<SharedState>
  ) -> BatchAcquisition {
    // What `acquireFast` does, up to the chain cache.
    guard state.held.hasRoom else { return .declined }
    if state.acquireBlockers != 0 {
      return acquireInBatchInContext(
        cls, instance: instance, read: read, origin: Self.origin(of: event, number: number), in: s)
    }
    let top = state.held.top
    let before = top?.taskState ?? TaskTransitions.empty
    let base = top == nil ? ChainKey.initial(irqContext: IRQContextID.task) : state.chainKey
    guard let after = taskContextState(after: before, taking: cls, read: read) else {
      return .declined
    }
    let key = ChainKey.iterate(base, lockClass: cls, read: read)
    let bits = HeldLock.taskContextBits(read: read, after: after)
    if chains.containsBranchFree(key) {
      pushTaskContext(
        cls, instance: instance, origin: Self.origin(of: event, number: number), key: key,
        bits: bits)
      return .cached
    }
    return acquireInBatchNewChain(
      cls, instance: instance, read: read, origin: Self.origin(of: event, number: number),
      key: key, bits: bits, in: s)
  }

  /// The origin of `event`, numbered `number` (`Origin.event`).
  @inline(__always)
  static func origin(of event: UnsafePointer<LockEvent>, number: Int64) -> Origin {
    var origin = event.pointee.origin
    origin.event = number
    return origin
  }

  /// `acquireInBatch` of a chain not in the cache, in plain task context,
  /// reaching `key` with packed fields `bits`; `hasRoom` holds.
  @inline(never)
  mutating func acquireInBatchNewChain(
    _ cls: ClassID, instance: UInt64, read: ReadMode, origin: Origin, key: UInt64, bits: UInt64,
    in s: UnsafeMutablePointer<SharedState>
  ) -> BatchAcquisition {
    // A new chain. A held lock with a task state was taken in task
    // context: the chain continues from it (an empty stack starts one and
    // adds no dependency). `checkRecursion`'s common case: no nest lock,
    // the class not held.
    if state.held.count > 0 {
      guard !state.held.holds(cls),
        dependenciesKnown(of: cls, read: read, context: IRQContextID.task, in: s)
      else { return .declined }
    }
    chainCache._withUnsafeGuaranteedRef { $0.insertNew(key) }
    pushTaskContext(cls, instance: instance, origin: origin, key: key, bits: bits)
    return .validated
  }

  /// `acquireInBatch` outside plain task context: in an interrupt-like
  /// context, or with interrupts, bottom halves or preemption disabled.
  /// The same steps from the state `acquire` and `push` keep: the segment's
  /// running wait type (`allowedNow()`), the class's `TaskTransitions` for
  /// the wait-context rule, the usage bits of the context, and the held
  /// lock built as `push` builds it. Declines a class that may sleep (the
  /// context may make it atomic: the full path's sleep check decides), a
  /// segment whose running wait type must be computed again, and anything
  /// `acquireInBatch` declines, and anything in an NMI (where the full
  /// path checks that the class was not used before). The thread must be
  /// validated.
  @inline(never)
  mutating func acquireInBatchInContext(
    _ cls: ClassID, instance: UInt64, read: ReadMode, origin: Origin,
    in s: UnsafeMutablePointer<SharedState>
  ) -> BatchAcquisition {
    guard !state.stopped, state.nmiDepth == 0 else { return .declined }
    let irqContext = state.irqContext
    let limit = configuration.effective(state.waitLimit)
    let top = state.held.top
    let chainHead = top.map { $0.irqContext != irqContext } ?? true
    // `allowedNow()`, and whether a held lock makes the holder atomic.
    var allowed = limit
    if let top, !chainHead {
      guard top.limitBase == limit else { return .declined }
      allowed = top.allowedAfter
    }
    let heldAtomic = top?.atomicSoFar ?? false
    let transitions = classes.taskTransitions(cls)
    // Refused from an atomic state: the class may sleep (or the
    // wait-context rule refuses it, or it takes no part in checks).
    guard
      transitions.next(after: TaskTransitions.state(allowed: allowed, atomic: true))
        != TaskTransitions.refused
    else { return .declined }
    let after = transitions.next(
      after: TaskTransitions.state(allowed: allowed, atomic: heldAtomic))
    let hardirqsOff = state.hardirqsOff
    let bits = usageBits(read: read, check: true, isTrylock: false, hardirqsOff: hardirqsOff)
    guard after != TaskTransitions.refused, classes.usage(cls).isSuperset(of: bits) else {
      return .declined
    }
    let base = chainHead ? ChainKey.initial(irqContext: irqContext) : state.chainKey
    let key = ChainKey.iterate(base, lockClass: cls, read: read)
    let cached = chains.containsBranchFree(key)
    if !cached {
      // A new chain: `checkRecursion`'s common case, then the dependencies.
      guard !state.held.holds(cls),
        chainHead || dependenciesKnown(of: cls, read: read, context: irqContext, in: s)
      else { return .declined }
      chainCache._withUnsafeGuaranteedRef { $0.insertNew(key) }
    }
    var lock = HeldLock(
      instance: instance, origin: origin, lockClass: cls, nest: .none, read: read,
      isTrylock: false, check: true, hardirqsOff: hardirqsOff, irqContext: irqContext)
    lock.previousChainKey = state.chainKey
    lock.limitBase = limit
    lock.allowedAfter = WaitType(rawValue: after & 7)!
    lock.atomicSoFar = after & 8 != 0
    lock.taskState = limit == .task ? after : TaskTransitions.refused
    state.held.appendInPlace(lock)
    state.chainKey = key
    return cached ? .cached : .validated
  }

  /// Whether every dependency `addDependencies` would add for an
  /// acquisition of `cls` with `read` in interrupt context `context` exists
  /// with its kind (in `s.graph`), checked since the graph last changed
  /// (`DependencyGraph.isChecked`), over the same held locks
  /// (`HeldStack.dependencyPrevs(inContext:)`). A known dependency not
  /// checked since is checked here when neither of its searches can find
  /// anything (the topological order shows no path back, and no irq
  /// conflict is possible), as `addDependency` would; else the full path
  /// searches.
  @inline(__always)
  func dependenciesKnown(
    of cls: ClassID, read: ReadMode, context: UInt8, in s: UnsafeMutablePointer<SharedState>
  ) -> Bool {
    var prevs = state.held.dependencyPrevs(inContext: context)
    while let prev = prevs.next() {
      let kinds = DependencyKinds.of(prev: prev.read, next: read)
      if s.pointee.graph.isChecked(from: prev.lockClass, to: cls, kinds: kinds) { continue }
      if !Self.checkKnown(prev: prev.lockClass, next: cls, kinds: kinds, in: s) { return false }
    }
    return true
  }

  /// `dependenciesKnown` of one dependency not checked since the graph last
  /// changed: checked (and marked so) when it is known and neither search
  /// can find anything; false otherwise. Out of line: the common case is
  /// the lookup alone.
  @inline(never)
  static func checkKnown(
    prev: ClassID, next: ClassID, kinds: DependencyKinds, in s: UnsafeMutablePointer<SharedState>
  ) -> Bool {
    guard s.pointee.graph.covers(from: prev, to: next, kinds: kinds),
      !s.pointee.graph.mayReach(from: next, to: prev),
      !s.pointee.graph.irqConflictPossible(prev: prev, next: next)
    else { return false }
    s.pointee.graph.markChecked(from: prev, to: next, kinds: kinds)
    return true
  }
}
