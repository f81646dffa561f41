import CRCUSupport
import Lockdep
import WaitContext

// The read side: liburcu's "memb" flavour with the lock validator on top.
//
// Fast path (`rlc_rcu_enter`/`rlc_rcu_exit`, inlined from CRCUSupport): the
// thread's record is in initial-exec thread-local storage, so it is found
// with no call and no load; entering the outermost section is a relaxed
// load of the record's counter word, a relaxed load of the global phase, a
// relaxed store, and a compiler-only fence (writers run membarrier(), which
// makes every running thread execute a full barrier); a nested entry or an
// exit is a relaxed load and a relaxed store. No atomic read-modify-write,
// no lock, no call. When membarrier() is not available, the fence becomes a
// full fence on the read side instead.
//
// Validation: each section is also reported to the lock validator as a
// recursive read of its flavour's `LockdepMap`, so a sleep inside one, or a
// lock whose wait type the section forbids, is a finding. Whether to report
// is decided at the outermost entry from the record's `validate` byte, which
// the slow path refreshes from `LockValidation.policy` every
// `policyRefreshInterval` outermost sections (and when the thread first
// enters one): with the policy `.off`, the fast path never reaches the
// validator.

/// The RCU flavours whose read-side sections are told apart by the
/// validator. They share one grace-period domain: a grace period waits for
/// every section of every flavour.
@usableFromInline
enum ReadFlavor {
  /// `rcu_read_lock()`: the `.rcu` kind (inner wait type `config`).
  case rcu
  /// `rcu_read_lock_bh()`: the `.rcuBH` kind.
  case bh
  /// `rcu_read_lock_sched()`: the `.rcuSched` kind (inner wait type `spin`).
  case sched

  /// The validator's object for this flavour's sections.
  @usableFromInline
  var map: Checked.LockdepMap {
    switch self {
    case .rcu: rcuLockMap
    case .bh: rcuBHLockMap
    case .sched: rcuSchedLockMap
    }
  }
}

/// `rcu_lock_map`: what `rcuReadLock()` sections are checked as.
@usableFromInline
let rcuLockMap = Checked.LockdepMap(.rcu, name: "rcu_read_lock", key: LockClassKey("rcu_read_lock"))

/// `rcu_bh_lock_map`: what `rcuReadLockBH()` sections are checked as.
@usableFromInline
let rcuBHLockMap = Checked.LockdepMap(
  .rcuBH, name: "rcu_read_lock_bh", key: LockClassKey("rcu_read_lock_bh"))

/// `rcu_sched_lock_map`: what `rcuReadLockSched()` sections are checked as.
@usableFromInline
let rcuSchedLockMap = Checked.LockdepMap(
  .rcuSched, name: "rcu_read_lock_sched", key: LockClassKey("rcu_read_lock_sched"))

/// Enters a section of `flavor`; the validator is told of an outermost
/// one as taken at `ip` (the caller of the public entry point, in a debug
/// build), else at this code's own address, which an optimized build
/// inlines into that caller (reports leave the read side's inlined frames
/// out: `FrameFilter.rawlockcheckMachinery`).
@inlinable @inline(__always)
func rcuEnter(_ flavor: ReadFlavor, from ip: UInt64 = 0) {
  let reader = rlc_rcu_reader_self()
  var entered = rlc_rcu_enter(reader)
  if _slowPath(entered == 0) { entered = ReaderRegistry.enterSlow(reader) }
  if _slowPath(entered == 2) {
    if ip != 0 {
      flavor.map.acquire(read: true, recursive: true, from: ip)
    } else {
      flavor.map.acquire(read: true, recursive: true)
    }
  }
}

@inlinable @inline(__always)
func rcuExit(_ flavor: ReadFlavor) {
  let reader = rlc_rcu_reader_self()
  // Read before leaving: `validate` is fixed for the whole outermost section.
  let validate = rlc_rcu_reader_validates(reader)
  if _slowPath(rlc_rcu_exit(reader) < 0) { return ReaderRegistry.unbalancedUnlock(of: flavor) }
  if _slowPath(validate) { flavor.map.release() }
}

// Each entry point twice: in a debug build (where nothing is inlined, and a
// section's report would otherwise name `rcuEnter` in this file as where
// it began) a function of its own that passes its caller's address, as
// the kernel's inlined `rcu_read_lock()` names its caller; in an optimized
// one, inlined into its caller: the read side's fast path makes no call.
#if DEBUG
  /// `rcu_read_lock()`: enters a read-side section. Pointers loaded inside
  /// it (with acquiring loads, `rcu_dereference()`) stay valid until the
  /// matching `rcuReadUnlock()`: no grace period that began before the
  /// entry ends until then. Sections nest; they must not sleep
  /// (`mightSleep()`, a sleeping lock, `synchronizeRCU()` inside one are
  /// findings).
  @inline(never)
  public func rcuReadLock() { rcuEnter(.rcu, from: LockValidation.returnAddress()) }

  /// `rcu_read_lock_bh()`: a section checked as the `rcu_bh` flavour.
  @inline(never)
  public func rcuReadLockBH() { rcuEnter(.bh, from: LockValidation.returnAddress()) }

  /// `rcu_read_lock_sched()`: a section checked as the `rcu_sched` flavour
  /// (preemption off: not even a `spinlock_t` may be taken inside it).
  @inline(never)
  public func rcuReadLockSched() { rcuEnter(.sched, from: LockValidation.returnAddress()) }

  /// Runs `body` in a read-side section (`rcuReadLock()` ...
  /// `rcuReadUnlock()`), left however `body` ends.
  @inline(never)
  public func withRCURead<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.rcu, from: LockValidation.returnAddress())
    defer { rcuExit(.rcu) }
    return try body()
  }

  /// Runs `body` in an `rcu_bh` read-side section.
  @inline(never)
  public func withRCUReadBH<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.bh, from: LockValidation.returnAddress())
    defer { rcuExit(.bh) }
    return try body()
  }

  /// Runs `body` in an `rcu_sched` read-side section.
  @inline(never)
  public func withRCUReadSched<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.sched, from: LockValidation.returnAddress())
    defer { rcuExit(.sched) }
    return try body()
  }
#else
  /// `rcu_read_lock()`: enters a read-side section. Pointers loaded inside
  /// it (with acquiring loads, `rcu_dereference()`) stay valid until the
  /// matching `rcuReadUnlock()`: no grace period that began before the
  /// entry ends until then. Sections nest; they must not sleep
  /// (`mightSleep()`, a sleeping lock, `synchronizeRCU()` inside one are
  /// findings).
  @inlinable
  public func rcuReadLock() { rcuEnter(.rcu) }

  /// `rcu_read_lock_bh()`: a section checked as the `rcu_bh` flavour.
  @inlinable
  public func rcuReadLockBH() { rcuEnter(.bh) }

  /// `rcu_read_lock_sched()`: a section checked as the `rcu_sched` flavour
  /// (preemption off: not even a `spinlock_t` may be taken inside it).
  @inlinable
  public func rcuReadLockSched() { rcuEnter(.sched) }

  /// Runs `body` in a read-side section (`rcuReadLock()` ...
  /// `rcuReadUnlock()`), left however `body` ends.
  @inlinable
  public func withRCURead<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.rcu)
    defer { rcuExit(.rcu) }
    return try body()
  }

  /// Runs `body` in an `rcu_bh` read-side section.
  @inlinable
  public func withRCUReadBH<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.bh)
    defer { rcuExit(.bh) }
    return try body()
  }

  /// Runs `body` in an `rcu_sched` read-side section.
  @inlinable
  public func withRCUReadSched<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    rcuEnter(.sched)
    defer { rcuExit(.sched) }
    return try body()
  }
#endif

/// `rcu_read_unlock()`: leaves the section `rcuReadLock()` entered. Without
/// one, a `bad-unlock-balance` finding (where validation is on), and
/// nothing else: the kernel warns and goes on.
@inlinable
public func rcuReadUnlock() { rcuExit(.rcu) }

/// `rcu_read_unlock_bh()`.
@inlinable
public func rcuReadUnlockBH() { rcuExit(.bh) }

/// `rcu_read_unlock_sched()`.
@inlinable
public func rcuReadUnlockSched() { rcuExit(.sched) }

/// Whether the calling thread is inside a read-side section of any flavour
/// (`rcu_read_lock_held()`, without the validator).
@inlinable
public func rcuReadLockHeld() -> Bool {
  rlc_rcu_depth(rlc_rcu_reader_self()) > 0
}
