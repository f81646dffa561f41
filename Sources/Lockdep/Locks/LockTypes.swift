// The lock types a program uses. In debug builds, and in any build with
// the package trait `Validation` (`swift build -c release --traits
// Validation`), they are the validated types of `Checked`; otherwise the
// plain types of `Plain`, with no validator code reached.
//
// Beside `import Synchronization`, whose `Mutex` has the same name, write
// `Lockdep.Mutex` (or `Synchronization.Mutex`) where the name is ambiguous.

#if DEBUG || Validation
  /// `raw_spinlock_t`: validated in this build.
  public typealias RawSpinLock = Checked.RawSpinLock
  /// `spinlock_t`: validated in this build.
  public typealias SpinLock = Checked.SpinLock
  /// `local_lock_t`: validated in this build.
  public typealias LocalLock = Checked.LocalLock
  /// `rwlock_t`: validated in this build.
  public typealias RWLock = Checked.RWLock
  /// `struct mutex`: validated in this build.
  public typealias Mutex = Checked.Mutex
  /// `struct rw_semaphore`: validated in this build.
  public typealias RWSemaphore = Checked.RWSemaphore
  /// A condition variable waited on with a `Mutex`: validated in this build.
  public typealias Condition = Checked.Condition
  /// Whether this build validates the default lock types.
  public let lockValidationIsCompiledIn = true
#else
  /// `raw_spinlock_t`: not validated in this build.
  public typealias RawSpinLock = Plain.RawSpinLock
  /// `spinlock_t`: not validated in this build.
  public typealias SpinLock = Plain.SpinLock
  /// `local_lock_t`: not validated in this build.
  public typealias LocalLock = Plain.LocalLock
  /// `rwlock_t`: not validated in this build.
  public typealias RWLock = Plain.RWLock
  /// `struct mutex`: not validated in this build.
  public typealias Mutex = Plain.Mutex
  /// `struct rw_semaphore`: not validated in this build.
  public typealias RWSemaphore = Plain.RWSemaphore
  /// A condition variable waited on with a `Mutex`: not validated in this
  /// build.
  public typealias Condition = Plain.Condition
  /// Whether this build validates the default lock types.
  public let lockValidationIsCompiledIn = false
#endif
