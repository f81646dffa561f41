import LockGraph
import Testing

@testable import Lockdep

/// A lock taken with an invalid subclass is left out with its unlock
/// (`LiveThread.unvalidated`); when its memory is freed before the unlock,
/// it is forgotten, so that a later lock at that address is not taken for
/// it (its bad unlock would be swallowed).
@Suite struct InvalidSubclassTests {
  @Test func aFreedLockLeftOutIsForgotten() {
    _ = LockValidationScope.check(expecting: .limitExceeded) {
      var lock: Checked.Mutex? = Checked.Mutex(name: "&freed->subclass")
      lock!.lock(subclass: 9)
      let thread = LiveThread.current()
      let before = thread?.unvalidated.count ?? -1
      #expect(before >= 1)
      lock = nil  // its deinit frees the lock's memory, on this thread
      #expect(thread?.unvalidated.count == before - 1)
    }
  }
}
