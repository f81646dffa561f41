/// One entry of a thread's held-lock stack (lockdep's `struct held_lock`).
public struct HeldLock: Sendable {
  public var lockClass: ClassID
  public var instance: UInt64
  public var read: ReadMode
  public var isTrylock: Bool
  /// Takes part in the graph (false for RCU kinds).
  public var check: Bool
  /// Interrupts were off when it was taken.
  public var hardirqsOff: Bool
  /// The interrupt context it was taken in (`IRQContextID`); the held-lock
  /// stack is split into segments of equal values.
  public var irqContext: UInt8
  /// The class named by `nest=` (`.none` when none or not held).
  public var nest: ClassID
  /// The thread's chain key before this lock was pushed.
  var previousChainKey: UInt64
  public var origin: Origin
}

/// The interrupt context of a held lock or thread, as lockdep's
/// `task_irq_context()` (softirq 1, hardirq 2) plus NMI (4).
public enum IRQContextID {
  public static let task: UInt8 = 0
  public static let softirq: UInt8 = 1
  public static let hardirq: UInt8 = 2
  public static let nmi: UInt8 = 4
}
