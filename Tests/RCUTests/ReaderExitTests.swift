import Basics
import RCU
import Synchronization
import Testing

@testable import LockGraph
@testable import Lockdep

/// A thread that used RCU exits as one thread to the validator.
@Suite struct ReaderExitTests {
  init() { LockValidation.policy = .collect }

  /// The RCU layer's key destructor unregisters the thread's reader under
  /// `rcu_registry_lock`. It ran after the validator's own exit check, on
  /// a new state that a trace declared as another thread (`tid.2`):
  /// every thread that used RCU was two. The check now waits one round
  /// of destructors: the thread is registered once.
  @Test func aReaderThreadIsRegisteredOnce() {
    let lock = Checked.Mutex(name: "&reader_exit->lock")
    let tid = Atomic<Int32>(0)
    SpawnedThread {
      tid.store(LiveThread.systemThreadID(), ordering: .relaxed)
      withRCURead {}
      lock.withLock {}
    }.join()
    let token = String(tid.load(ordering: .relaxed))
    let tokens = LiveValidator.shared.core.shared.withLock { $0.threadTokens }
    #expect(tokens.filter { $0 == token }.count == 1, "\(tokens.filter { $0 == token })")
  }
}
