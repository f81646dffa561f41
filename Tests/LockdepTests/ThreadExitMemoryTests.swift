import Basics
import Lockdep
import Synchronization
import Testing

@testable import Lockdep

/// A thread's validation state is freed when the thread exits: a program
/// that starts a thread per task keeps nothing per exited thread. (The
/// state's validator held the state itself as its stack source, a
/// reference cycle: every exited thread kept about 16 KB, 1.16 GB after
/// 100,000 threads.)
@Suite struct ThreadExitMemoryTests {
  /// A weak reference to a thread's state, set on that thread.
  final class Watch: Sendable {
    let state = Mutex<[Weak]>([])
    struct Weak: @unchecked Sendable { weak var thread: LiveThread? }
  }

  @Test func anExitedThreadsStateIsFreed() {
    LockValidation.policy = .collect
    let lock = Checked.Mutex(name: "ThreadExitMemoryTests.lock")
    let watch = Watch()
    for _ in 0..<8 {
      let worker = SpawnedThread {
        lock.lock()
        lock.unlock()
        let state = LiveThread.current()
        #expect(state != nil)
        watch.state.withLock { $0.append(Watch.Weak(thread: state)) }
      }
      worker.join()
    }
    // Key destructors run before a thread is joined.
    let kept = watch.state.withLock { $0.filter { $0.thread != nil }.count }
    #expect(watch.state.withLock { $0.count } == 8)
    #expect(kept == 0, "\(kept) of 8 exited threads' states are still alive")
  }
}
