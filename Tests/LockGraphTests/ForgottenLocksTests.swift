import Testing
import WaitContext

@testable import LockGraph

/// Locks a live thread reported and forgot (`ValidatorCore.forget`): their
/// release later, on any thread, is no bad unlock balance, once per
/// acquisition; a free of their memory ends that.
@Suite struct ForgottenLocksTests {
  /// A scenario whose thread "1" took `A` at 0x1000 twice (a read lock
  /// held twice) and forgot both acquisitions, as `LiveThread` does:
  /// released in the validator, and kept by the core.
  static func forgotten() -> Scenario {
    var s = Scenario()
    s.lock("A", .rwlock)
    s.acquire("A", read: .recursive, inst: 0x1000)
    s.acquire("A", read: .recursive, inst: 0x1000)
    let held = s.validator.heldLocks(of: s.thread("1"))
    s.release("A", inst: 0x1000)
    s.release("A", inst: 0x1000)
    s.validator.core.forget(held)
    return s
  }

  @Test func eachForgottenAcquisitionIsReleasedOnceOnAnyThread() {
    var s = Self.forgotten()
    s.release("A", on: "2", inst: 0x1000)
    s.release("A", on: "3", inst: 0x1000)
    #expect(s.kinds.isEmpty)
    // A third release is one too many.
    s.release("A", on: "2", inst: 0x1000)
    #expect(s.kinds == [.badUnlockBalance])
  }

  @Test func anotherInstanceIsNotForgotten() {
    var s = Self.forgotten()
    s.release("A", on: "2", inst: 0x2000)
    #expect(s.kinds == [.badUnlockBalance])
  }

  /// The memory freed, a lock made there later is another: its release
  /// without an acquisition is a bad unlock balance again.
  @Test func aFreeEndsTheForgottenLocksInIt() {
    var s = Self.forgotten()
    s.free(0x1000, 8, on: "3")
    s.release("A", on: "2", inst: 0x1000)
    #expect(s.kinds == [.badUnlockBalance])
  }

  /// A fork (an isolated scope's validator) shares its base's threads, and
  /// so its forgotten locks, both ways.
  @Test func aForkSharesItsBasesForgottenLocks() {
    let s = Self.forgotten()
    let fork = s.validator.core.fork()
    #expect(fork.forgotten === s.validator.core.forgotten)
    #expect(fork.forgotten.count.load(ordering: .relaxed) == 2)
  }

  /// Only the newest `ForgottenLocks.capacity` are kept.
  @Test func theNewestAreKept() {
    let locks = ForgottenLocks()
    let one = HeldLock(
      instance: 1, origin: Origin(), lockClass: ClassID(0), nest: .none, read: .exclusive,
      isTrylock: false, check: true, hardirqsOff: false, irqContext: 0)
    locks.add(Array(repeating: one, count: ForgottenLocks.capacity + 5))
    #expect(locks.count.load(ordering: .relaxed) == ForgottenLocks.capacity)
  }
}
