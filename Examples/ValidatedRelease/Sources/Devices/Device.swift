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

  /// The interrupt lock in the device's interrupt handler...
  public func handleInterrupt() {
    withHardIRQ { irqLock.withLock {} }
  }

  /// ... and with interrupts on: an inconsistent lock state.
  public func pollWithInterruptsOn() {
    irqLock.withLock {}
  }
}
