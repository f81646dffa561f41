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
/// Invariants: the map is held only with `--preempt-rt`, only in task
/// context (the kernel warns on `local_bh_disable()` in a hard interrupt,
/// and a softirq or a threaded handler already limits what nests inside
/// it to `config`), as one entry per `bh-disable` taken there, and always
/// as a recursive read: a path through it is never a strong one (it is
/// entered by a dependency on a recursive reader and left by one from it),
/// so it closes no cycle, and it adds no interrupt usage that can conflict
/// (a read usage conflicts with no other read usage, and PREEMPT_RT has no
/// softirq usage at all).
enum LocalBottomHalf {
  /// The key and name of its class, as the kernel names the map.
  static let name = "local_bh"
  /// Its wait types: outer `LD_WAIT_FREE`, inner `LD_WAIT_CONFIG`,
  /// `LD_LOCK_PERCPU`.
  static let waits = ClassWaitTypes(inner: .config, outer: .free, lockType: .percpu)
}

extension ThreadValidator {
  /// The `local_bh` class in this core's registry, registered at its first
  /// use (a run that never disables bottom halves on PREEMPT_RT has no such
  /// class); `.none` when the class table is full. A class another source
  /// registered under the same key (a merged trace's own `local_bh`) is
  /// shared when it has the map's wait types, else the map gets a class of
  /// its own.
  mutating func localBottomHalfClass() -> ClassID {
    if let known = localBottomHalf { return known }
    let registry = core.classes
    var id = ClassID.none
    if let (found, _) = registry.register(
      key: LocalBottomHalf.name, name: LocalBottomHalf.name, kind: .custom,
      waits: LocalBottomHalf.waits)
    {
      id = found
      if classes.waits(found) != LocalBottomHalf.waits {
        id =
          registry.declare(
            key: LocalBottomHalf.name, name: LocalBottomHalf.name, kind: .custom,
            waits: LocalBottomHalf.waits) ?? .none
      }
    }
    localBottomHalf = id
    return id
  }

  /// `bh-disable` on PREEMPT_RT: takes the `local_bh` map in task context
  /// (`LocalBottomHalf`), before the count goes up, as
  /// `__local_bh_disable_ip()` does.
  mutating func takeLocalBottomHalf(at origin: Origin) {
    guard configuration.preemptRT, state.contexts.isEmpty, state.nmiDepth == 0 else { return }
    let cls = localBottomHalfClass()
    guard cls != .none else { return }
    acquire(LockEvent(.acquire, thread: thread, lockClass: cls, read: .recursive, origin: origin))
  }

  /// `bh-enable` on PREEMPT_RT: releases the newest `local_bh` map held in
  /// task context, when there is one (a `bh-disable` in an interrupt
  /// context, or one whose map a limit kept off the stack, took none).
  mutating func releaseLocalBottomHalf(at origin: Origin) {
    guard configuration.preemptRT, state.contexts.isEmpty, let cls = localBottomHalf,
      cls != .none, holdsLocalBottomHalf(cls)
    else { return }
    release(LockEvent(.release, thread: thread, lockClass: cls, origin: origin))
  }

  /// Whether the current (task) segment holds a `local_bh` entry.
  private func holdsLocalBottomHalf(_ cls: ClassID) -> Bool {
    var i = state.held.count - 1
    let start = state.currentSegmentStart
    while i >= start {
      if state.held[i].lockClass == cls { return true }
      i -= 1
    }
    return false
  }

  /// Whether `lock` is a `local_bh` map this validator took.
  func isLocalBottomHalf(_ lock: HeldLock) -> Bool {
    localBottomHalf.map { $0 != .none && lock.lockClass == $0 } ?? false
  }
}
