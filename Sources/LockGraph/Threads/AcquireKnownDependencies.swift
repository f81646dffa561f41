extension ThreadValidator {
  /// The acquisition path between the fast one and the full one, for a
  /// trace's validator holding the core's lock (`s`): an acquisition the
  /// fast path would take but for its chain, which is not in the cache,
  /// and whose chain adds no dependency the graph does not hold already
  /// with its kind. Validating such a chain finds nothing and changes only
  /// the cache, so it is done here, inline: the recursion check (the class
  /// is not held), one lookup per dependency, and the cache insert.
  /// Returns false, changing nothing, for anything else: `acquire` then
  /// runs in full.
  ///
  /// It makes exactly the state change `acquire` would make; the counters
  /// are the caller's (an acquisition and a chain miss). Call it only after
  /// `acquireFast` declined the same acquisition: a chain it finds in the
  /// cache is then a new one only because the fast path did not look.
  @inline(never)
  mutating func acquireOverKnownDependencies(
    _ cls: ClassID, instance: UInt64, read: ReadMode, origin: Origin,
    in s: UnsafeMutablePointer<SharedState>
  ) -> Bool {
    // What `acquireFast` checks, but the chain cache.
    guard state.acquireBlockers == 0, state.held.hasRoom else { return false }
    let top = state.held.top
    let before = top?.taskState ?? TaskTransitions.empty
    let after = classes.taskTransitions(cls).next(after: before)
    guard after != TaskTransitions.refused,
      classes.usage(cls).isSuperset(of: .taskContext(read: read))
    else { return false }
    // A held lock with a task state was taken in task context: the chain
    // continues from it (an empty stack starts one and adds no dependency).
    if top != nil {
      // `checkRecursion`'s common case: no nest lock, the class not held.
      guard !state.held.holds(cls), dependenciesKnown(of: cls, read: read, in: s)
      else { return false }
    }
    let base = top == nil ? ChainKey.initial(irqContext: IRQContextID.task) : state.chainKey
    let key = ChainKey.iterate(base, lockClass: cls, read: read)
    chainCache._withUnsafeGuaranteedRef { $0.insertNew(key) }
    // Not remembered in the memo: `acquire` does not remember either, and
    // the memo decides which acquisitions count as chain hits.
    state.held.appendInPlace(
      HeldLock(
        taskContext: instance, origin: origin, lockClass: cls, previousChainKey: state.chainKey,
        bits: HeldLock.taskContextBits(read: read, after: after)))
    state.chainKey = key
    return true
  }

  /// Whether every dependency `addDependencies` would add for an
  /// acquisition of `cls` with `read` in task context exists in `graph`
  /// with its kind (`s.graph`): the held locks of the task segment, newest first,
  /// skipping check-free entries, going past trylocks and stopping after
  /// the first non-trylock (lockdep's `check_prevs_add()`).
  @inline(__always)
  func dependenciesKnown(
    of cls: ClassID, read: ReadMode, in s: UnsafeMutablePointer<SharedState>
  ) -> Bool {
    var i = state.held.count - 1
    while i >= 0 {
      let prev = state.held[i]
      if prev.irqContext != IRQContextID.task { return true }
      if prev.check {
        let kinds = DependencyKinds.of(prev: prev.read, next: read)
        if !s.pointee.graph.covers(from: prev.lockClass, to: cls, kinds: kinds) { return false }
        if !prev.isTrylock { return true }
      }
      i -= 1
    }
    return true
  }
}
