import Lockdep

/// A device with one lock of every kind, as a driver would hold them.
public final class Device: @unchecked Sendable {
  /// Taken from interrupt-like contexts.
  public let irqLock = RawSpinLock(name: "&dev->irq_lock")
  /// `spinlock_t`: sleeps on PREEMPT_RT.
  public let stateLock = SpinLock(name: "&dev->state_lock")
  /// Per-CPU data.
  public let statsLock = LocalLock(name: "&dev->stats_lock")
  /// Readers may be many.
  public let tableLock = RWLock(name: "&dev->table_lock")
  /// Configuration (may sleep).
  public let configMutex = Mutex(name: "&dev->config_mutex")
  /// Readers of the configuration (may sleep).
  public let configSem = RWSemaphore(name: "&dev->config_sem")
  /// Settings reached only under their mutex.
  public let settings = Protected(0, by: Mutex(name: "&dev->settings_lock"))

  /// A device.
  public init() {}

  /// Every lock, in the device's order.
  public func reconfigure() {
    configSem.withLock {
      configMutex.withLock {
        stateLock.withLock {
          statsLock.withLock {}
          tableLock.withLock { irqLock.withLock {} }
        }
      }
    }
  }

  /// The bug: the configuration mutex under the raw interrupt lock.
  public func reconfigureFromInterruptPath() {
    irqLock.withLock { configMutex.withLock {} }
  }

  /// The same bug through `Protected`, whose `withLock` is inlined into
  /// this function in an optimized build.
  public func updateSettingsFromInterruptPath() {
    irqLock.withLock { settings.withLock { $0 += 1 } }
  }

  /// The interrupt lock in the device's interrupt handler...
  public func handleInterrupt() {
    withHardIRQ { irqLock.withLock {} }
  }

  /// ... and with interrupts on: an inconsistent lock state.
  public func pollWithInterruptsOn() {
    irqLock.withLock {}
  }
}

/// A counter made, used and dropped in one expression (`Counter().bump()`):
/// the optimizer may put it, and the locks it makes, on the stack.
public final class Counter: @unchecked Sendable {
  /// The count's lock.
  public let lock = RawSpinLock(name: "&counter->lock")
  /// A sleeping lock beside it.
  public let logMutex = Mutex(name: "&counter->log_mutex")
  /// The count.
  public var count = 0

  /// A counter at 0.
  public init() {}

  /// Adds one under the lock, and logs.
  public func bump() {
    lock.withLock { count += 1 }
    logMutex.withLock {}
  }
}
