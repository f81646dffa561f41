import WaitContext

/// One entry of a thread's held-lock stack (lockdep's `struct held_lock`).
public struct HeldLock: Sendable {
  // Laid out widest first: 64 bytes, no padding between fields.
  public var instance: UInt64
  /// The thread's chain key before this lock was pushed.
  var previousChainKey: UInt64
  public var origin: Origin
  public var lockClass: ClassID
  /// The class named by `nest=` (`.none` when none or not held).
  public var nest: ClassID
  public var read: ReadMode
  public var isTrylock: Bool
  /// Takes part in the graph (false for RCU kinds).
  public var check: Bool
  /// Interrupts were off when it was taken.
  public var hardirqsOff: Bool
  /// The interrupt context it was taken in (`IRQContextID`); the held-lock
  /// stack is split into segments of equal values.
  public var irqContext: UInt8
  /// The wait type allowed after this lock in its segment (the running
  /// value of `WaitContextRule.allowed`), computed when it was pushed from
  /// the context limit `limitBase`.
  var allowedAfter: WaitType = .task
  /// The (effective) context limit `allowedAfter` started from.
  var limitBase: WaitType = .task
  /// This lock, or one held below it, makes the holder atomic
  /// (`SleepRule.makesAtomic`).
  var atomicSoFar = false
}

/// The interrupt context of a held lock or thread, as lockdep's
/// `task_irq_context()` (softirq 1, hardirq 2) plus NMI (4).
public enum IRQContextID {
  public static let task: UInt8 = 0
  public static let softirq: UInt8 = 1
  public static let hardirq: UInt8 = 2
  public static let nmi: UInt8 = 4
}
