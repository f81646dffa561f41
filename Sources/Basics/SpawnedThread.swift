#if canImport(Glibc)
  import Glibc
#endif

/// A thread of its own (a pthread, not a task): for code that must run on
/// a thread with its own thread-local state and its own exit (a validated
/// thread's end is a check), and for benchmarks that pin work to threads.
public struct SpawnedThread: @unchecked Sendable {
  /// The pthread.
  public let handle: pthread_t

  private final class Start {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
  }

  /// Starts a thread running `body` once.
  public init(_ body: @escaping @Sendable () -> Void) {
    let start = Unmanaged.passRetained(Start(body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(
      &thread, nil,
      { raw in
        Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
      }, start)
    precondition(status == 0, "pthread_create failed: \(status)")
    handle = thread
  }

  /// Waits for the thread to end.
  public func join() { pthread_join(handle, nil) }

  /// Lets the thread end without a `join()`.
  public func detach() { pthread_detach(handle) }

  /// Runs `body(i)` on `count` threads at once and waits for all of them.
  public static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let threads = (0..<count).map { i in SpawnedThread { body(i) } }
    for t in threads { t.join() }
  }
}
