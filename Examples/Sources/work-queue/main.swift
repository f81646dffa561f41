// Queues and flushes work on four threads. In a debug build every lock
// operation is validated, and a finding is printed to standard error in
// lockdep's layout; `--bug` adds one: a mutex taken under a raw spin lock.
import Lockdep
import WorkQueue

#if canImport(Glibc)
  import Glibc
#endif

let queue = WorkQueue()
let threads = (0..<4).map { _ in
  spawn {
    for _ in 0..<1000 {
      queue.queue {}
      queue.flush()
    }
  }
}
for t in threads { pthread_join(t, nil) }
// A signal handler runs as a hard interrupt; code that shares a lock with
// it masks it (`local_irq_save()`), or the validator reports the lock's
// inconsistent use. Where validation is compiled out the mask still
// blocks the signal, and nothing reaches the validator.
let ticks = Protected(0, by: RawSpinLock(name: "&ticks_lock"))
installSignalHandler(SIGUSR1) { _ in ticks.withLock { $0 += 1 } }
withInterruptsMasked { ticks.withLock { $0 += 1 } }
raise(SIGUSR1)
if CommandLine.arguments.contains("--bug") {
  queue.flushWhileHoldingTheQueueLock()
}
let done = queue.completed.withLock { $0 }
print(
  "work-queue: \(done) items run, \(withInterruptsMasked { ticks.withLock { $0 } }) ticks; validation \(LockValidation.isChecking ? "on" : lockValidationIsCompiledIn ? "off" : "compiled out"); \(LockValidation.findings.count) findings"
)

/// Starts `body` on a new thread.
func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
  final class Box: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
  }
  var thread = pthread_t()
  pthread_create(
    &thread, nil,
    { raw in
      Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
      return nil
    }, Unmanaged.passRetained(Box(body)).toOpaque())
  return thread
}
