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
}

/// A thread of its own (a pthread), running `body` once.
struct KernelThread: @unchecked Sendable {
  let handle: pthread_t

  private final class Start {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
      self.name = name
      self.body = body
    }
  }

  /// Starts a thread named `name` (at most 15 bytes reach the system).
  init(name: String, _ body: @escaping @Sendable () -> Void) {
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
      &thread, nil,
      { raw in
        let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
        rlc_rcu_set_thread_name(start.name)
        start.body()
        return nil
      }, start)
    precondition(status == 0, "pthread_create failed: \(status)")
    handle = thread
  }

  /// Waits for the thread to end.
  func join() { pthread_join(handle, nil) }

  /// Lets the thread end without a `join()`.
  func detach() { pthread_detach(handle) }
}

/// The number of processors online.
func onlineProcessors() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
