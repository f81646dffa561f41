import LockGraph
import Synchronization
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A thread's exit check runs after the first round of the program's own
/// pthread key destructors, as lockdep's `debug_check_no_locks_held()`
/// runs at the very end of `do_exit()`, after exit-time cleanup: a lock a
/// destructor releases (a lock kept in a thread-local value) was released
/// before the thread ended. Before 2026-12-07 the check ran in the
/// validator's own destructor, first (its key was made first): the lock
/// was found held at exit, and its release a bad unlock balance (an
/// independent trial's). A thread whose first lock a destructor takes is
/// checked too (a first version of the change, which waited for glibc's
/// last round, left it unchecked: a review's).
@Suite(.serialized) struct KeyDestructorTests {
  /// What the key's destructor does (one test at a time: the suite is
  /// serialized), with `lock`: releases it, or takes it and leaves it held.
  enum Destructor {
    nonisolated(unsafe) static var lock: Checked.Mutex?
    nonisolated(unsafe) static var takes = false
    static let key: pthread_key_t = {
      var key = pthread_key_t()
      pthread_key_create(&key) { _ in
        if KeyDestructorTests.Destructor.takes {
          KeyDestructorTests.Destructor.lock?.lock()
        } else {
          KeyDestructorTests.Destructor.lock?.unlock()
        }
      }
      return key
    }()

    /// The key, made after the validator's (a lock taken first makes that
    /// one, if no test did): its destructor runs after the validator's in
    /// each round.
    static func made() -> pthread_key_t {
      Checked.Mutex(name: "&tls->first").withLock {}
      return key
    }
  }

  /// The findings of the process that name `name`.
  func findings(naming name: String) -> [Finding] {
    LockValidation.findings.filter { LockValidation.describe($0).contains(name) }
  }

  @Test func aLockAKeyDestructorReleasesIsNotHeldAtExit() {
    let name = "&tls->released"
    let lock = Checked.Mutex(name: name, key: LockClassKey(name))
    (Destructor.lock, Destructor.takes) = (lock, false)
    let key = Destructor.made()
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          lock.lock()
          pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        }
      }, nil)
    #expect(scope.findings.map(\.kind) == [], "\(scope.findings.map(\.text))")
    #expect(findings(naming: name).isEmpty)
  }

  @Test func aLockFirstTakenInAKeyDestructorIsCheckedAtExit() {
    let name = "&tls->taken_at_exit"
    let lock = Checked.Mutex(name: name, key: LockClassKey(name))
    (Destructor.lock, Destructor.takes) = (lock, true)
    let key = Destructor.made()
    // The thread takes no lock: its state is made in the destructor.
    pthread_join(spawn { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }, nil)
    #expect(findings(naming: name).map(\.kind) == [.locksHeldAtExit])
  }
}
