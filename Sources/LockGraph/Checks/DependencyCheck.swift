extension ThreadValidator {
  /// lockdep's `check_prevs_add()`: adds prev -> lock for the held locks of
  /// the current segment, newest first, skipping check-free entries, going
  /// past trylocks and stopping after the first non-trylock.
  ///
  /// lockdep searches for a known dependency too (`check_prev_add()` runs
  /// `check_noncircular()` and `check_irq_usage()` before it looks for the
  /// dependency), and a search may find what the one that added it missed:
  /// `__bfs()` marks a class visited before it tests the strong path, so a
  /// class first reached by a weak path is not entered again, and a search
  /// from another root finds the cycle or the irq conflict that one missed.
  /// So a known dependency is checked again, unless it was checked since
  /// the graph (its edges and usage) last changed (`isChecked`): that
  /// search would find what it found then.
  mutating func addDependencies(_ lock: HeldLock, in s: inout SharedState) {
    var prevs = state.held.dependencyPrevs(inContext: lock.irqContext)
    while let prev = prevs.next() {
      let kinds = DependencyKinds.of(prev: prev.read, next: lock.read)
      // The common case, inline: the dependency exists, checked since the
      // graph last changed.
      if s.graph.isChecked(from: prev.lockClass, to: lock.lockClass, kinds: kinds) { continue }
      let known = s.graph.covers(from: prev.lockClass, to: lock.lockClass, kinds: kinds)
      // A dependency reported (and not added) does not end the walk:
      // lockdep stops there because it turns itself off, while here
      // validation goes on, and the dependencies on the locks below a
      // trylock are this acquisition's too (a cycle or an irq conflict
      // of one of them is another finding; before 2026-12-06 they were
      // neither checked nor added, and a later deadlock through them was
      // missed).
      guard addDependency(prev: prev, next: lock, kinds: kinds, known: known, in: &s) else {
        continue
      }
      s.graph.markChecked(from: prev.lockClass, to: lock.lockClass, kinds: kinds)
    }
  }

  /// lockdep's `check_prev_add()`: the new dependency must not close a
  /// strong cycle, nor connect an irq-safe class to an irq-unsafe one.
  /// Returns false when it was reported (and not added). `known`: the
  /// graph holds it with `kinds` already (checked again, not added).
  mutating func addDependency(
    prev: HeldLock, next: HeldLock, kinds: DependencyKinds, known: Bool = false,
    in s: inout SharedState
  ) -> Bool {
    // No search where the graph's topological order shows that no path
    // leads from next back to prev.
    if s.graph.mayReach(from: next.lockClass, to: prev.lockClass),
      let cycle = s.search.run(
        graph: s.graph, classes: classes, from: next.lockClass, direction: .forward,
        rootOnlyRecursive: next.read == .recursive, skipIrqUsageExempt: false,
        goal: .conflict(target: prev.lockClass, targetRead: prev.read))
    {
      if prev.lockClass == next.lockClass {
        report(
          .recursiveLocking, origin: foundAt(next), lock: snapshot(next),
          detail: .recursiveLocking(held: snapshot(prev)), classes: [next.lockClass], in: &s)
      } else {
        reportCycle(prev: prev, next: next, path: cycle.path, in: &s)
      }
      return false
    }
    if !checkIrqDependency(prev: prev, next: next, in: &s) { return false }
    if known { return true }
    let classes = self.classes
    s.graph.add(
      from: prev.lockClass, to: next.lockClass, kinds: kinds, origin: foundAt(next),
      thread: thread, skipsIrqUsage: classes.skipsIrqUsage)
    return true
  }

  /// lockdep's `print_circular_bug()` data: the path next -> ... -> prev,
  /// printed from prev back to next.
  /// The chain's links are built only for a cycle not reported before
  /// from this site: a repeat is a count.
  mutating func reportCycle(prev: HeldLock, next: HeldLock, path: [Int32], in s: inout SharedState)
  {
    var related = path.reversed().map { s.graph.edges[Int($0)].to }
    related.append(next.lockClass)
    let usage = classes
    let (held, nextOrigin, thread) = (snapshot(prev), foundAt(next), self.thread)
    report(
      .circularDependency, origin: nextOrigin, lock: snapshot(next), variant: 0,
      detail: { s in
        var chain: [ChainLink] = []
        chain.reserveCapacity(path.count + 1)
        for e in path.reversed() {
          let edge = s.graph.edges[Int(e)]
          chain.append(
            ChainLink(
              lockClass: edge.to, origin: edge.origin, thread: edge.creator,
              usage: usage.usage(edge.to)))
        }
        chain.append(
          ChainLink(
            lockClass: next.lockClass, origin: nextOrigin, thread: thread,
            usage: usage.usage(next.lockClass)))
        return .circularDependency(held: held, chain: chain)
      }, classes: related, in: &s)
  }
}

extension SharedState {
  /// The classes along a search path, as chain links (root excluded), each
  /// with its usage bits now when `classes` are given.
  func links(_ path: [Int32], forward: Bool, usageOf classes: ClassTables? = nil) -> [ChainLink] {
    path.map { e in
      let edge = graph.edges[Int(e)]
      let c = forward ? edge.to : edge.from
      return ChainLink(
        lockClass: c, origin: edge.origin, thread: edge.creator, usage: classes?.usage(c))
    }
  }
}
