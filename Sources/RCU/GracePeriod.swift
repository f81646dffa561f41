import CRCUSupport
import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// `synchronize_rcu()`: waits until every read-side section (of any
/// flavour, in any thread) that began before the call has ended. May sleep:
/// calling it inside a section or in atomic context is a finding
/// (`mightSleep()`).
///
/// Called inside a read-side section of the calling thread it could never
/// return (it would wait for that section); it reports the sleep, then
/// waits for every other thread only: without the grace-period lock (a
/// grace period another thread runs meanwhile waits for this section, and
/// it deadlocked), until each other reader inside a section as it was
/// called has been seen outside it.
public func synchronizeRCU() {
  Checked.mightSleep()
  GracePeriods.shared.synchronize()
}

/// How many grace periods have completed in this process.
public var rcuCompletedGracePeriods: Int { GracePeriods.shared.completed.load(ordering: .relaxed) }

/// Grace-period detection over the reader registry (liburcu's two-phase
/// wait).
///
/// Invariants: one grace period at a time (`gpLock`); the phase flips only
/// under `gpLock`; a reader that entered under the old phase is waited for
/// before and after the flip, so a section that began before the call (its
/// phase read before the first fence) has ended when `synchronize()` returns.
final class GracePeriods: Sendable {
  static let shared = GracePeriods()

  /// `rcu_gp_lock`: serializes grace periods; held across the waits.
  let gpLock = Checked.Mutex(name: "rcu_gp_lock", key: LockClassKey("rcu_gp_lock"))
  /// Grace periods completed.
  let completed = Atomic<Int>(0)

  func synchronize() {
    let registry = ReaderRegistry.shared  // sets up membarrier() first
    let me = rlc_rcu_reader_self()
    if rlc_rcu_depth(me) > 0 { return synchronizeInSection(registry, me) }
    gpLock.lock()
    // The updater's stores (a new pointer published) before any reader's
    // phase is read; under the registry lock, so a thread registering after
    // it sees them through that lock.
    registry.withLockedRegistry { rlc_rcu_mb_master() }
    waitForOldReaders(registry, excluding: me)
    rlc_rcu_smp_mb()
    rlc_rcu_flip_phase()
    rlc_rcu_smp_mb()
    waitForOldReaders(registry, excluding: me)
    // The readers' last accesses before the updater's frees.
    rlc_rcu_mb_master()
    completed.add(1, ordering: .relaxed)
    gpLock.unlock()
  }

  /// `synchronize()` from inside the caller's own section (a finding
  /// already): every section that began before the call, but the
  /// caller's, has ended once its reader was seen outside any section.
  /// A reader that re-enters at once may be seen inside again and again:
  /// this waits longer then, never less.
  private func synchronizeInSection(
    _ registry: ReaderRegistry, _ me: UnsafeMutablePointer<rlc_rcu_reader>
  ) {
    registry.withLockedRegistry { rlc_rcu_mb_master() }
    var waiting = registry.inSection(nil, excluding: me)
    poll {
      waiting = registry.inSection(waiting, excluding: me)
      return !waiting.isEmpty
    }
    // The readers' last accesses before the caller's frees.
    rlc_rcu_mb_master()
  }

  /// Polls the registry until no reader is in an old-phase section.
  private func waitForOldReaders(
    _ registry: ReaderRegistry, excluding me: UnsafeMutablePointer<rlc_rcu_reader>
  ) {
    poll { registry.anyOldReader(excluding: me) }
  }

  /// Waits while `waiting()` is true, asking first and then between
  /// pauses: spins first (a section is short), then yields, then sleeps
  /// 50 µs per poll.
  private func poll(while waiting: () -> Bool) {
    var attempt = 0
    while waiting() {
      attempt += 1
      if attempt < 100 {
        rlc_rcu_cpu_relax()
      } else if attempt < 200 {
        sched_yield()
      } else {
        usleep(50)
      }
    }
  }
}
