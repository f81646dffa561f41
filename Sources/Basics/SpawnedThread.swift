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

  /// Starts a thread running `body` once; stops the program, saying why,
  /// when the system cannot start one (`starting(_:)` throws instead).
  public init(_ body: @escaping @Sendable () -> Void) {
    do {
      self = try Self.starting(body)
    } catch {
      fatalError("\(error)")
    }
  }

  /// Starts a thread running `body` once.
  /// - Throws: `ThreadStartError` when the system cannot start one (out of
  ///   memory for its stack, or of threads: `ulimit -u`); `body` does not
  ///   run then.
  public static func starting(_ body: @escaping @Sendable () -> Void) throws(ThreadStartError)
    -> SpawnedThread
  {
    let start = Unmanaged.passRetained(Start(body))
    var thread = pthread_t()
    let status = pthread_create(
      &thread, nil,
      { raw in
        Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
      }, start.toOpaque())
    guard status == 0 else {
      start.release()
      throw ThreadStartError(code: status)
    }
    return SpawnedThread(handle: thread)
  }

  private init(handle: pthread_t) { self.handle = handle }

  /// Starts and joins a thread that does nothing: for a program that needs
  /// threads (its own, or libdispatch's, which waits for one forever) to
  /// say at its start that it cannot have one.
  /// - Throws: `ThreadStartError` when the system cannot start a thread.
  public static func probe() throws(ThreadStartError) {
    try starting {}.join()
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

/// Why a thread could not be started: `pthread_create`'s error number.
public struct ThreadStartError: Error, CustomStringConvertible {
  /// The error number (`EAGAIN`: out of threads or memory).
  public let code: Int32

  /// `cannot start a thread: ` and the system's words for `code`.
  public var description: String {
    "cannot start a thread: \(String(cString: strerror(code)))"
  }
}
