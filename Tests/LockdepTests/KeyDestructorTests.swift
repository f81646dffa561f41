import LockGraph
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A thread's exit check runs after the program's own pthread key
/// destructors, as lockdep's `debug_check_no_locks_held()` runs at the very
/// end of `do_exit()`, after every exit-time cleanup: a lock a destructor
/// releases (a lock kept in a thread-local value) was released before the
/// thread ended. Before 2026-12-07 the check ran in the validator's own
/// destructor, first (its key was made first): the lock was found held
/// at exit, and its release a bad unlock balance (an independent trial's).
@Suite(.serialized) struct KeyDestructorTests {
  /// The lock the key's destructor releases (one test case at a time:
  /// the suite is serialized), and how: at once, or (set
  /// again in the first round) in the second round of destructors.
  enum Held {
    nonisolated(unsafe) static var lock: Checked.Mutex?
    nonisolated(unsafe) static var inSecondRound = false
    static let key: pthread_key_t = {
      var key = pthread_key_t()
      pthread_key_create(&key) { value in
        if KeyDestructorTests.Held.inSecondRound && value == UnsafeMutableRawPointer(bitPattern: 1)
        {
          // First round: not yet; ask for another.
          pthread_setspecific(KeyDestructorTests.Held.key, UnsafeRawPointer(bitPattern: 2))
          return
        }
        KeyDestructorTests.Held.lock?.unlock()
      }
      return key
    }()
  }

  @Test(arguments: [false, true])
  func aLockAKeyDestructorReleasesIsNotHeldAtExit(inSecondRound: Bool) {
    let name = "&tls_\(inSecondRound)->held"
    let lock = Checked.Mutex(name: name, key: LockClassKey(name))
    Held.lock = lock
    Held.inSecondRound = inSecondRound
    // A lock taken first makes the validator's key (if no test did),
    // before this one: its destructor runs first in each round.
    Checked.Mutex(name: "&tls->first").withLock {}
    let key = Held.key
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          lock.lock()
          pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        }
      }, nil)
    #expect(scope.findings.map(\.kind) == [], "\(scope.findings.map(\.text))")
    #expect(
      LockValidation.findings.filter { LockValidation.describe($0).contains(name) }.isEmpty)
  }
}
