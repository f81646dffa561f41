import WaitContext

/// PREEMPT_RT's `local_bh` lockdep map (`bh_lock_map` in
/// `kernel/softirq.c`): `__local_bh_disable_ip()` takes it as a recursive
/// reader (`lock_map_acquire_read()`) each time bottom halves are disabled,
/// and `__local_bh_enable_ip()` releases it (commit "lockdep: Fix wait
/// context check on softirq for PREEMPT_RT"). Its inner wait type is
/// `LD_WAIT_CONFIG`: on PREEMPT_RT, where a bottom-half-disabled section is
/// preemptible and lockdep counts no softirq context, the map is what makes
/// a lock that sleeps taken there an invalid wait context.
///
/// Invariants: the map is held only with `--preempt-rt`, as one entry per
/// `bh-disable` taken outside an NMI (where lockdep is off), in whatever
/// context (the kernel warns on `local_bh_disable()` in a hard interrupt,
/// and takes the map all the same); a `bh-enable` releases the newest one,
/// in whatever context it was taken (`lock_map_release()` finds it with
/// `find_held_lock()`, which looks at every held lock), and a handler that
/// returns with a section open drops its map unreported (a bottom-half
/// count left over is no finding). It is always a recursive read: a path
/// through it is never a strong one (it is entered by a dependency on a
/// recursive reader and left by one from it), so it closes no cycle, and
/// it adds no interrupt usage that can conflict (a read usage conflicts
/// with no other read usage, and PREEMPT_RT has no softirq usage at all).
/// Not taken: the maps of the kernel's own sections (softirq processing in
/// `ksoftirqd`, `irq_forced_thread_fn()`'s `local_bh_disable()`), whose
/// contexts limit what nests inside them to `config` already.
enum LocalBottomHalf {
  /// The name of its class, as the kernel names the map.
  static let name = "local_bh"
  /// The key of its class: not the name, which a trace may give a class
  /// of its own of another kind (merged with one that uses the map, the
  /// two were refused as one class of two kinds).
  static let key = "rawlockcheck:local_bh"
  /// Its wait types: outer `LD_WAIT_FREE`, inner `LD_WAIT_CONFIG`,
  /// `LD_LOCK_PERCPU`.
  static let waits = ClassWaitTypes(inner: .config, outer: .free, lockType: .percpu)
}

extension ThreadValidator {
  /// The `local_bh` class in this core's registry, registered at its first
  /// use (a run that never disables bottom halves on PREEMPT_RT has no such
  /// class); `.none` when the class table is full. The same class in every
  /// source of a merge and in a graph file (`LocalBottomHalf.key`).
  mutating func localBottomHalfClass() -> ClassID {
    if let known = localBottomHalf { return known }
    let registry = core.classes
    var id = ClassID.none
    if let (found, _) = registry.register(
      key: LocalBottomHalf.key, name: LocalBottomHalf.name, kind: .custom,
      waits: LocalBottomHalf.waits)
    {
      id = found
      if classes.waits(found) != LocalBottomHalf.waits {
        id =
          registry.declare(
            key: LocalBottomHalf.key, name: LocalBottomHalf.name, kind: .custom,
            waits: LocalBottomHalf.waits) ?? .none
      }
    }
    localBottomHalf = id
    return id
  }

  /// `bh-disable` on PREEMPT_RT: takes the `local_bh` map
  /// (`LocalBottomHalf`), before the count goes up, as
  /// `__local_bh_disable_ip()` does; not in an NMI.
  mutating func takeLocalBottomHalf(at origin: Origin) {
    guard configuration.preemptRT, state.nmiDepth == 0 else { return }
    let cls = localBottomHalfClass()
    guard cls != .none else { return }
    counters.localBottomHalfTakings += 1
    acquire(LockEvent(.acquire, thread: thread, lockClass: cls, read: .recursive, origin: origin))
  }

  /// `bh-enable` on PREEMPT_RT: releases the newest `local_bh` map held,
  /// when there is one (a `bh-disable` in an NMI, or one whose map a
  /// limit kept off the stack, took none). One of the current context is
  /// released as any lock (the locks above it validated again); one of a
  /// context this one interrupted goes with the locks above it put back
  /// unvalidated, as a free of such a lock (`dropFreed`) leaves them.
  mutating func releaseLocalBottomHalf(at origin: Origin) {
    guard configuration.preemptRT, state.nmiDepth == 0, let cls = localBottomHalf, cls != .none
    else { return }
    var i = state.held.count - 1
    while i >= 0 && state.held[i].lockClass != cls { i -= 1 }
    guard i >= 0 else { return }
    if i >= state.currentSegmentStart {
      release(LockEvent(.release, thread: thread, lockClass: cls, origin: origin))
      return
    }
    let removed = state.held[i]
    let kept = Array(state.held[(i + 1)...])
    state.held.removeAll(from: i)
    putBack(kept, after: removed)
  }

  /// Whether `lock` is a `local_bh` map this validator took.
  func isLocalBottomHalf(_ lock: HeldLock) -> Bool {
    localBottomHalf.map { $0 != .none && lock.lockClass == $0 } ?? false
  }
}
