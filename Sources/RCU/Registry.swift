import CLockdepSupport
import CRCUSupport
import Lockdep
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Every thread's reader record that a grace period must look at (liburcu's
/// registry). A thread registers itself on its first read-side section and
/// is removed when it exits.
///
/// Invariants:
/// - the list from `head` (linked through the records' `next` and `prev`)
///   is read and changed only with `lock` held; a record in it belongs to
///   a live thread (the exit destructor removes it first), so a writer may
///   read it while it holds `lock`; a record is in it exactly when its
///   `registered` is set;
/// - a record's depth is zero whenever it is not in the list;
/// - membarrier() is set up (`rlc_rcu_init_membarrier`) before the first
///   record is added and before the first grace period, so no section ever
///   runs with the compiler-only fence unless writers use membarrier().
@usableFromInline
final class ReaderRegistry: @unchecked Sendable {
  /// The one registry.
  static let shared = ReaderRegistry()

  /// How many outermost sections a thread runs between two reads of
  /// `LockValidation.policy` (a change of policy reaches a thread's read
  /// sections within this many).
  static let policyRefreshInterval: UInt32 = 64

  /// `rcu_registry_lock`: a raw spin lock, always taken with interrupts
  /// masked (`withLock`), so a thread may register from any context that
  /// can enter a section, a hard interrupt included; held only while the
  /// list is changed or scanned, never while waiting.
  let lock = Checked.RawSpinLock(
    name: "rcu_registry_lock", key: LockClassKey("rcu_registry_lock"))
  /// The newest registered record (guarded by `lock`): the list of them
  /// runs through the records, so registering allocates nothing.
  private var head: UnsafeMutablePointer<rlc_rcu_reader>?
  /// Whether writers use membarrier().
  let usesMembarrier: Bool

  /// Whether `shared` was made: it allocates, so the first section must
  /// not be in a signal handler (which may have interrupted `malloc`);
  /// after it, registering allocates nothing, in a handler too.
  static let isCreated = Atomic<Bool>(false)

  private init() {
    // Read as the other RAWLOCKCHECK_* yes-or-no variables are (a value it
    // cannot take is said on standard error; before 2026-12-07 it was read
    // in C and taken silently as no).
    let refused = ProcessEnvironment.flag("RAWLOCKCHECK_RCU_NO_MEMBARRIER")
    usesMembarrier = rlc_rcu_init_membarrier(refused ? 1 : 0) != 0
    // The exit key now, not at a first registration in a handler.
    _ = readerExitKey
    // Before the validator's exit check: `unregister` takes
    // `rcu_registry_lock`, which after the check would be a new state's.
    ThreadExitHooks.add { ReaderRegistry.unregisterExitingThread() }
    Self.isCreated.store(true, ordering: .releasing)
  }

  /// The entry slow path: registers the calling thread if it is not yet,
  /// re-reads the validation policy, then enters. Returns what
  /// `rlc_rcu_enter` returns (never 0).
  @usableFromInline @inline(never)
  static func enterSlow(_ reader: UnsafeMutablePointer<rlc_rcu_reader>) -> Int32 {
    if !rlc_rcu_reader_is_registered(reader) {
      if _slowPath(!isCreated.load(ordering: .acquiring)) {
        precondition(
          rlc_lockdep_signal_depth() == 0,
          "the process's first RCU read-side section ran in a signal handler: it sets up the "
            + "reader registry, which allocates; enter one (withRCURead {}) before installing "
            + "the handler")
      }
      shared.register(reader)
    }
    rlc_rcu_reader_refresh(reader, LockValidation.policy != .off, policyRefreshInterval)
    return rlc_rcu_enter(reader)
  }

  /// An exit without an entry (the depth stays 0): a release of the
  /// flavour's map the validator finds unbalanced (`bad-unlock-balance`,
  /// as lockdep finds `rcu_read_unlock()` without `rcu_read_lock()`), or,
  /// with validation off, one line on standard error, once per process.
  /// Before 2026-12-06 the program stopped with a fatal error.
  @usableFromInline @inline(never)
  static func unbalancedUnlock(of flavor: ReadFlavor) {
    if LockValidation.policy != .off {
      flavor.map.release()
    } else if !saidUnbalanced.exchange(true, ordering: .relaxed) {
      let message =
        "rawlockcheck: RCU: a read-side section left without being entered (ignored)\n"
      _ = message.withCString { write(2, $0, strlen($0)) }
    }
  }

  /// Whether an unbalanced exit was said (validation off).
  private static let saidUnbalanced = Atomic<Bool>(false)

  private func register(_ reader: UnsafeMutablePointer<rlc_rcu_reader>) {
    withLock {
      reader.pointee.prev = nil
      reader.pointee.next = head
      head?.pointee.prev = reader
      head = reader
      rlc_rcu_reader_set_registered(reader, true)
    }
    // The destructor runs only for a non-nil value.
    pthread_setspecific(readerExitKey, UnsafeRawPointer(reader))
  }

  /// Removes the exiting thread's record. A thread that exits inside a
  /// section is a program error; it is reported and removed anyway (it
  /// can no longer use what it read, and grace periods must not wait on it).
  fileprivate func unregister(_ reader: UnsafeMutablePointer<rlc_rcu_reader>) {
    if rlc_rcu_depth(reader) != 0 {
      let message = "rawlockcheck: RCU: a thread exited inside a read-side section\n"
      _ = message.withCString { write(2, $0, strlen($0)) }
    }
    withLock {
      guard rlc_rcu_reader_is_registered(reader) else { return }
      if let prev = reader.pointee.prev {
        prev.pointee.next = reader.pointee.next
      } else {
        head = reader.pointee.next
      }
      reader.pointee.next?.pointee.prev = reader.pointee.prev
      reader.pointee.next = nil
      reader.pointee.prev = nil
      rlc_rcu_reader_set_registered(reader, false)
    }
  }

  /// Whether a registered reader other than `excluded` is inside a section
  /// entered under the old phase.
  func anyOldReader(excluding excluded: UnsafeMutablePointer<rlc_rcu_reader>) -> Bool {
    withLock {
      var next = head
      while let reader = next {
        if reader != excluded && rlc_rcu_reader_state(reader) == 2 { return true }
        next = reader.pointee.next
      }
      return false
    }
  }

  /// Of `readers` (nil: every registered reader but `excluded`), those
  /// still registered and inside a section now. A record of `readers` is
  /// read only once it is found in the list: one whose thread exited since
  /// may be memory that is gone.
  func inSection(
    _ readers: [UnsafeMutablePointer<rlc_rcu_reader>]?,
    excluding excluded: UnsafeMutablePointer<rlc_rcu_reader>
  ) -> [UnsafeMutablePointer<rlc_rcu_reader>] {
    withLock {
      var registered: [UnsafeMutablePointer<rlc_rcu_reader>] = []
      var next = head
      while let reader = next {
        registered.append(reader)
        next = reader.pointee.next
      }
      let listed = Set(registered)
      return (readers ?? registered).filter { reader in
        reader != excluded && listed.contains(reader) && rlc_rcu_depth(reader) > 0
      }
    }
  }

  /// Runs `body` with the registry locked (no thread registers meanwhile).
  func withLockedRegistry(_ body: () -> Void) { withLock(body) }

  /// Runs `body` with `lock` held and interrupts masked (the lock is
  /// irq-safe: `register` may run in a hard interrupt).
  private func withLock<R>(_ body: () -> R) -> R {
    Checked.withInterruptsMasked {
      lock.lock()
      defer { lock.unlock() }
      return body()
    }
  }
}

extension ReaderRegistry {
  /// Removes the exiting thread's record, if it has one still (a thread
  /// exit hook, run before the validator's exit check; the key's own
  /// destructor finds the key cleared then).
  fileprivate static func unregisterExitingThread() {
    guard let raw = pthread_getspecific(readerExitKey) else { return }
    pthread_setspecific(readerExitKey, nil)
    shared.unregister(raw.assumingMemoryBound(to: rlc_rcu_reader.self))
  }
}

/// The pthread key whose destructor removes an exiting thread's record
/// (when the validator's exit hook has not: validation off, or this
/// key's destructor ran first).
private let readerExitKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { raw in
    guard let raw else { return }
    ReaderRegistry.shared.unregister(raw.assumingMemoryBound(to: rlc_rcu_reader.self))
  }
  return key
}()

/// What the read side found about this machine.
public enum ReaderDiagnostics {
  /// Whether grace periods use membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
  /// so that read-side sections need only a compiler fence.
  public static var usesMembarrier: Bool { ReaderRegistry.shared.usesMembarrier }
}
