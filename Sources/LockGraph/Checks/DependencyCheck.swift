extension LockValidator {
  /// lockdep's `check_prevs_add()`: adds prev -> lock for the held locks of
  /// the current segment, newest first, skipping check-free entries, going
  /// past trylocks and stopping after the first non-trylock.
  mutating func addDependencies(thread t: Int, _ lock: HeldLock) {
    let held = threads[t].held
    var i = held.count - 1
    while i >= 0 && held[i].irqContext == lock.irqContext {
      let prev = held[i]
      if prev.check {
        if !addDependency(thread: t, prev: prev, next: lock) { return }
        if !prev.isTrylock { return }
      }
      i -= 1
    }
  }

  /// lockdep's `check_prev_add()`: the new dependency must not close a
  /// strong cycle, nor connect an irq-safe class to an irq-unsafe one.
  /// Returns false when it was reported (and not added).
  mutating func addDependency(thread t: Int, prev: HeldLock, next: HeldLock) -> Bool {
    let kinds = DependencyKinds.of(prev: prev.read, next: next.read)
    if let e = graph.edge(from: prev.lockClass, to: next.lockClass),
      graph.edges[Int(e)].kinds.isSuperset(of: kinds)
    {
      return true
    }
    if let cycle = search.run(
      graph: graph, classes: classes, from: next.lockClass, direction: .forward,
      rootOnlyRecursive: next.read == .recursive, skipIrqUsageExempt: false,
      goal: .conflict(target: prev.lockClass, targetRead: prev.read))
    {
      if prev.lockClass == next.lockClass {
        report(
          .recursiveLocking, thread: t, origin: next.origin, lock: snapshot(next),
          detail: .recursiveLocking(held: snapshot(prev)), classes: [next.lockClass])
      } else {
        reportCycle(thread: t, prev: prev, next: next, path: cycle.path)
      }
      return false
    }
    if !checkIrqDependency(thread: t, prev: prev, next: next) { return false }
    graph.add(
      from: prev.lockClass, to: next.lockClass, kinds: kinds, origin: next.origin,
      thread: ThreadID(Int32(t)))
    return true
  }

  /// lockdep's `print_circular_bug()` data: the path next -> ... -> prev,
  /// printed from prev back to next.
  mutating func reportCycle(thread t: Int, prev: HeldLock, next: HeldLock, path: [Int32]) {
    var chain: [ChainLink] = []
    for e in path.reversed() {
      let edge = graph.edges[Int(e)]
      chain.append(ChainLink(lockClass: edge.to, origin: edge.origin, thread: edge.thread))
    }
    chain.append(
      ChainLink(lockClass: next.lockClass, origin: next.origin, thread: ThreadID(Int32(t))))
    report(
      .circularDependency, thread: t, origin: next.origin, lock: snapshot(next),
      detail: .circularDependency(held: snapshot(prev), chain: chain),
      classes: chain.map(\.lockClass))
  }

  /// The classes along a search path, as chain links (root excluded).
  func links(_ path: [Int32], forward: Bool) -> [ChainLink] {
    path.map { e in
      let edge = graph.edges[Int(e)]
      return ChainLink(
        lockClass: forward ? edge.to : edge.from, origin: edge.origin, thread: edge.thread)
    }
  }
}
