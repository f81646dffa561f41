#if canImport(Glibc)
  import Glibc
#endif

/// The project's own lock: a value behind a `pthread_mutex_t`. Never an
/// instrumented lock, so the validator never validates itself.
///
/// Not the standard library's `Mutex`: its lock and unlock are compiled
/// into the (uninstrumented) Synchronization library, so ThreadSanitizer
/// cannot see them order the accesses they protect, and reports every one
/// as a race. ThreadSanitizer intercepts `pthread_mutex_lock`.
public final class PThreadMutex<Value: ~Copyable>: @unchecked Sendable {
  @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
  /// Only touched with `mutex` held, which is the exclusivity guarantee:
  /// no dynamic exclusivity check on each access.
  @usableFromInline @exclusivity(unchecked) var value: Value

  /// `value`, behind a new lock.
  public init(_ value: consuming Value) {
    self.value = value
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// Runs `body` with the lock held and the value to read or change.
  /// Inlinable: specialized and inlined where it is called, so the body is
  /// not called through a generic thunk.
  @inlinable @inline(__always)
  public func withLock<Result: ~Copyable, E: Error>(_ body: (inout Value) throws(E) -> Result)
    throws(E) -> Result
  {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value)
  }

  /// Runs `body` with the lock held if it is free now; nil when it is not
  /// (for a signal handler, which must not wait for the code it interrupted).
  public func withLockIfAvailable<Result, E: Error>(_ body: (inout Value) throws(E) -> Result)
    throws(E) -> Result?
  {
    guard pthread_mutex_trylock(mutex) == 0 else { return nil }
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value)
  }
}
