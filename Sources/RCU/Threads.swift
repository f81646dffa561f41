import Basics
import CRCUSupport

#if canImport(Glibc)
  import Glibc
#endif

/// A counting semaphore (`sem_t`): the wait primitive of the RCU threads.
/// It is not a lock: posting never waits, from any context.
final class Semaphore: @unchecked Sendable {
  private let semaphore: UnsafeMutablePointer<sem_t>

  init(_ value: UInt32 = 0) {
    semaphore = .allocate(capacity: 1)
    sem_init(semaphore, 0, value)
  }

  deinit {
    sem_destroy(semaphore)
    semaphore.deallocate()
  }

  /// Adds one; wakes a waiter.
  func post() { sem_post(semaphore) }

  /// Takes one, waiting while there is none.
  func wait() {
    while sem_wait(semaphore) != 0 && errno == EINTR {}
  }

  /// Takes one, waiting at most `microseconds` while there is none.
  /// Returns whether it took one.
  @discardableResult
  func wait(microseconds: UInt32) -> Bool {
    // On the monotonic clock: a step of the wall clock (NTP) neither
    // lengthens nor shortens the wait.
    var deadline = timespec()
    clock_gettime(CLOCK_MONOTONIC, &deadline)
    let nanoseconds = Int(deadline.tv_nsec) + Int(microseconds) * 1000
    deadline.tv_sec += nanoseconds / 1_000_000_000
    deadline.tv_nsec = nanoseconds % 1_000_000_000
    while true {
      if rlc_rcu_sem_wait_until(semaphore, deadline.tv_sec, deadline.tv_nsec) == 0 { return true }
      if errno != EINTR { return false }
    }
  }
}

/// A thread of its own (a pthread), running `body` once, named for the
/// system and for reports.
struct KernelThread: Sendable {
  private let thread: SpawnedThread

  /// Starts a thread named `name` (at most 15 bytes reach the system).
  init(name: String, _ body: @escaping @Sendable () -> Void) {
    thread = SpawnedThread {
      rlc_rcu_set_thread_name(name)
      body()
    }
  }

  /// Waits for the thread to end.
  func join() { thread.join() }

  /// Lets the thread end without a `join()`.
  func detach() { thread.detach() }
}

/// The number of processors online.
func onlineProcessors() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
