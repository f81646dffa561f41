import CLockdepSupport
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A spinning exclusive lock word: test-and-test-and-set, with the CPU's
/// spin hint while another thread holds it, and a yield after a long wait
/// (user space can be preempted while holding a spin lock).
@usableFromInline
struct SpinWord: ~Copyable {
  @usableFromInline let word = Atomic<UInt32>(0)

  @inlinable init() {}

  @inlinable
  borrowing func tryLock() -> Bool {
    word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
  }

  @inlinable
  borrowing func lock() {
    if tryLock() { return }
    lockSlow()
  }

  @usableFromInline
  borrowing func lockSlow() {
    var spins = 0
    while true {
      while word.load(ordering: .relaxed) != 0 {
        spins += 1
        if spins < 1000 { rlc_cpu_relax() } else { sched_yield() }
      }
      if tryLock() { return }
    }
  }

  @inlinable
  borrowing func unlock() { word.store(0, ordering: .releasing) }

  @inlinable
  var isLocked: Bool { word.load(ordering: .relaxed) != 0 }
}

/// A spinning reader-writer word (`rwlock_t`): readers never wait for a
/// waiting writer, so a reader may recurse.
///
/// Invariant: bit 31 is the writer; the low bits count readers.
@usableFromInline
struct RWSpinWord: ~Copyable {
  @usableFromInline static var writer: UInt32 { 1 << 31 }
  @usableFromInline let word = Atomic<UInt32>(0)

  @inlinable init() {}

  @inlinable
  borrowing func tryLock() -> Bool {
    word.compareExchange(expected: 0, desired: Self.writer, ordering: .acquiring).exchanged
  }

  @inlinable
  borrowing func lock() {
    var spins = 0
    while !tryLock() {
      spins += 1
      if spins < 1000 { rlc_cpu_relax() } else { sched_yield() }
    }
  }

  @inlinable
  borrowing func unlock() { word.store(0, ordering: .releasing) }

  @inlinable
  borrowing func tryReadLock() -> Bool {
    var v = word.load(ordering: .relaxed)
    while v & Self.writer == 0 {
      let (done, now) = word.compareExchange(
        expected: v, desired: v + 1, ordering: .acquiring)
      if done { return true }
      v = now
    }
    return false
  }

  @inlinable
  borrowing func readLock() {
    var spins = 0
    while !tryReadLock() {
      spins += 1
      if spins < 1000 { rlc_cpu_relax() } else { sched_yield() }
    }
  }

  /// Drops one reader. A read unlock with no reader (an unbalanced unlock,
  /// which the validator reports as lockdep does) changes nothing, rather
  /// than wrapping the count into the writer bit or trapping.
  @inlinable
  borrowing func readUnlock() {
    var v = word.load(ordering: .relaxed)
    while v & ~Self.writer != 0 {
      let (done, now) = word.weakCompareExchange(
        expected: v, desired: v &- 1, successOrdering: .releasing, failureOrdering: .relaxed)
      if done { return }
      v = now
    }
  }
}

/// A sleeping mutex: a `pthread_mutex_t` at a fixed address.
@usableFromInline
struct SleepingMutex: ~Copyable {
  @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

  @inlinable
  init() {
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  @inlinable borrowing func lock() { pthread_mutex_lock(mutex) }
  @inlinable borrowing func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }
  @inlinable borrowing func unlock() { pthread_mutex_unlock(mutex) }
}

/// A sleeping reader-writer semaphore: a `pthread_rwlock_t` that prefers
/// writers, so a second read while a writer waits blocks, as `rw_semaphore`.
@usableFromInline
struct SleepingRWLock: ~Copyable {
  @usableFromInline let rwlock: UnsafeMutablePointer<pthread_rwlock_t>

  @inlinable
  init() {
    rwlock = .allocate(capacity: 1)
    var attr = pthread_rwlockattr_t()
    pthread_rwlockattr_init(&attr)
    pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
    pthread_rwlock_init(rwlock, &attr)
    pthread_rwlockattr_destroy(&attr)
  }

  deinit {
    pthread_rwlock_destroy(rwlock)
    rwlock.deallocate()
  }

  @inlinable borrowing func lock() { pthread_rwlock_wrlock(rwlock) }
  @inlinable borrowing func tryLock() -> Bool { pthread_rwlock_trywrlock(rwlock) == 0 }
  @inlinable borrowing func unlock() { pthread_rwlock_unlock(rwlock) }
  @inlinable borrowing func readLock() { pthread_rwlock_rdlock(rwlock) }
  @inlinable borrowing func tryReadLock() -> Bool { pthread_rwlock_tryrdlock(rwlock) == 0 }
  @inlinable borrowing func readUnlock() { pthread_rwlock_unlock(rwlock) }
}

/// A `pthread_cond_t`, waited on with its mutex held.
@usableFromInline
struct ConditionVariable: ~Copyable {
  @usableFromInline let cond: UnsafeMutablePointer<pthread_cond_t>

  @inlinable
  init() {
    cond = .allocate(capacity: 1)
    var attr = pthread_condattr_t()
    pthread_condattr_init(&attr)
    // Timed waits measure from the monotonic clock (`timeout:`), which a
    // change of the wall clock does not move.
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
    pthread_cond_init(cond, &attr)
    pthread_condattr_destroy(&attr)
  }

  deinit {
    pthread_cond_destroy(cond)
    cond.deallocate()
  }

  @inlinable borrowing func wait(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
    pthread_cond_wait(cond, mutex)
  }

  /// Whether it was woken (or woke spuriously) before `timeout` passed.
  @inlinable borrowing func wait(
    _ mutex: UnsafeMutablePointer<pthread_mutex_t>, timeout: Duration
  ) -> Bool {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let (seconds, attoseconds) = max(timeout, .zero).components
    var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
    var deadline = timespec()
    deadline.tv_sec = now.tv_sec + Int(seconds) + Int(nanoseconds / 1_000_000_000)
    nanoseconds %= 1_000_000_000
    deadline.tv_nsec = Int(nanoseconds)
    return pthread_cond_timedwait(cond, mutex, &deadline) != ETIMEDOUT
  }

  @inlinable borrowing func signal() { pthread_cond_signal(cond) }
  @inlinable borrowing func broadcast() { pthread_cond_broadcast(cond) }
}
