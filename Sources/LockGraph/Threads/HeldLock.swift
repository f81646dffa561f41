import WaitContext

/// One entry of a thread's held-lock stack (lockdep's `struct held_lock`).
///
/// 64 bytes of whole words: the small fields share one packed word, so
/// pushing and copying an entry moves eight-byte words only (byte-sized
/// fields written one by one and then copied as a block stall the CPU's
/// store forwarding on every acquisition).
public struct HeldLock: Sendable {
  /// The lock instance's address, 0 when unknown.
  public var instance: UInt64
  /// The thread's chain key before this lock was pushed.
  @usableFromInline var previousChainKey: UInt64
  /// Where it was acquired.
  public var origin: Origin
  /// Its class.
  public var lockClass: ClassID
  /// The class named by `nest=` (`.none` when none or not held).
  public var nest: ClassID
  /// The packed small fields (see the accessors below).
  @usableFromInline var bits: UInt64

  @inlinable static var readShift: UInt64 { 0 }  // 2 bits
  @inlinable static var trylockBit: UInt64 { 1 << 2 }
  @inlinable static var checkBit: UInt64 { 1 << 3 }
  @inlinable static var hardirqsOffBit: UInt64 { 1 << 4 }
  @inlinable static var atomicBit: UInt64 { 1 << 5 }
  @inlinable static var indexedBit: UInt64 { 1 << 6 }
  @inlinable static var irqContextShift: UInt64 { 8 }  // 8 bits
  @inlinable static var allowedShift: UInt64 { 16 }  // 8 bits
  @inlinable static var limitShift: UInt64 { 24 }  // 8 bits
  @inlinable static var taskStateShift: UInt64 { 32 }  // 4 bits
  @inlinable static var bottomHalfSectionBit: UInt64 { 1 << 39 }
  @inlinable static var referencesShift: UInt64 { 40 }  // 24 bits

  init(
    instance: UInt64, origin: Origin, lockClass: ClassID, nest: ClassID, read: ReadMode,
    isTrylock: Bool, check: Bool, hardirqsOff: Bool, irqContext: UInt8
  ) {
    self.instance = instance
    self.previousChainKey = 0
    self.origin = origin
    self.lockClass = lockClass
    self.nest = nest
    var b = UInt64(read.rawValue) << Self.readShift | UInt64(irqContext) << Self.irqContextShift
    if isTrylock { b |= Self.trylockBit }
    if check { b |= Self.checkBit }
    if hardirqsOff { b |= Self.hardirqsOffBit }
    b |= UInt64(WaitType.task.rawValue) << Self.allowedShift
    b |= UInt64(WaitType.task.rawValue) << Self.limitShift
    b |= UInt64(TaskTransitions.refused) << Self.taskStateShift
    self.bits = b
  }

  /// The fast path's entry: a lock of class `lockClass` taken in plain
  /// task context (interrupts and bottom halves on, not a trylock, no nest
  /// lock), with `bits` from `taskContextBits(read:after:)`.
  @inlinable @inline(__always)
  init(
    taskContext instance: UInt64, origin: Origin, lockClass: ClassID, previousChainKey: UInt64,
    bits: UInt64
  ) {
    self.instance = instance
    self.previousChainKey = previousChainKey
    self.origin = origin
    self.lockClass = lockClass
    self.nest = .none
    self.bits = bits
  }

  /// The packed fields of a lock taken in plain task context with `read`,
  /// reaching task state `after` (`TaskTransitions`).
  @inlinable @inline(__always)
  static func taskContextBits(read: ReadMode, after: UInt8) -> UInt64 {
    UInt64(read.rawValue) | Self.checkBit | UInt64(after & 8) << 2
      | UInt64(after & 7) << Self.allowedShift | UInt64(WaitType.task.rawValue) << Self.limitShift
      | UInt64(after) << Self.taskStateShift
  }

  @inline(__always)
  private func flag(_ bit: UInt64) -> Bool { bits & bit != 0 }

  @inline(__always)
  private mutating func set(_ bit: UInt64, _ on: Bool) {
    bits = on ? bits | bit : bits & ~bit
  }

  @inline(__always)
  private func byte(_ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: bits >> shift) }

  @inline(__always)
  private mutating func setByte(_ shift: UInt64, _ value: UInt8) {
    bits = bits & ~(0xFF << shift) | UInt64(value) << shift
  }

  /// How it was acquired (lockdep's `read`).
  public var read: ReadMode {
    @inline(__always) get { ReadMode(rawValue: UInt8(truncatingIfNeeded: bits & 3))! }
    @inline(__always) set { bits = bits & ~3 | UInt64(newValue.rawValue) }
  }

  /// lockdep's `references`: 0 for a lock taken once; for the newest held
  /// lock of a class taken again with a nest lock, how many acquisitions
  /// it stands for (at most 2^24 - 1; lockdep's 12-bit field warns past
  /// 4,095).
  public var references: UInt32 {
    @inline(__always) get { UInt32(truncatingIfNeeded: bits >> Self.referencesShift) }
    @inline(__always) set {
      bits =
        bits & ((1 << Self.referencesShift) - 1)
        | UInt64(min(newValue, 0xFF_FFFF)) << Self.referencesShift
    }
  }

  /// Its release ends a bottom-half-disabled section it began: an
  /// `rcu_read_lock_bh()` (`local_bh_disable()`, then the lockdep map),
  /// whose `rcu_read_unlock_bh()` enables bottom halves again.
  public var endsBottomHalfSection: Bool {
    @inline(__always) get { flag(Self.bottomHalfSectionBit) }
    @inline(__always) set { set(Self.bottomHalfSectionBit, newValue) }
  }

  /// Its release only pops it: no references to give back
  /// (`references`), no bottom-half section to end
  /// (`endsBottomHalfSection`). One test of the packed word, for the fast
  /// paths.
  @inlinable var releasesAlone: Bool {
    @inline(__always) get { bits & (Self.bottomHalfSectionBit | ~0 << Self.referencesShift) == 0 }
  }

  /// A trylock that succeeded.
  public var isTrylock: Bool {
    @inline(__always) get { flag(Self.trylockBit) }
    @inline(__always) set { set(Self.trylockBit, newValue) }
  }

  /// Takes part in the graph (false for RCU kinds).
  public var check: Bool {
    @inline(__always) get { flag(Self.checkBit) }
    @inline(__always) set { set(Self.checkBit, newValue) }
  }

  /// Interrupts were off when it was taken.
  public var hardirqsOff: Bool {
    @inline(__always) get { flag(Self.hardirqsOffBit) }
    @inline(__always) set { set(Self.hardirqsOffBit, newValue) }
  }

  /// The interrupt context it was taken in (`IRQContextID`); the held-lock
  /// stack is split into segments of equal values.
  public var irqContext: UInt8 {
    @inline(__always) get { byte(Self.irqContextShift) }
    @inline(__always) set { setByte(Self.irqContextShift, newValue) }
  }

  /// The wait type allowed after this lock in its segment (the running
  /// value of `WaitContextRule.allowed`), computed when it was pushed from
  /// the context limit `limitBase`.
  var allowedAfter: WaitType {
    @inline(__always) get { WaitType(rawValue: byte(Self.allowedShift))! }
    @inline(__always) set { setByte(Self.allowedShift, newValue.rawValue) }
  }

  /// The (effective) context limit `allowedAfter` started from.
  var limitBase: WaitType {
    @inline(__always) get { WaitType(rawValue: byte(Self.limitShift))! }
    @inline(__always) set { setByte(Self.limitShift, newValue.rawValue) }
  }

  /// The task state after this lock (`TaskTransitions`): its
  /// `allowedAfter` and `atomicSoFar`, when it is held in task context
  /// under the task's limit; else `TaskTransitions.refused`, which no
  /// table entry continues from.
  @inlinable var taskState: UInt8 {
    @inline(__always) get { UInt8(truncatingIfNeeded: bits >> Self.taskStateShift) & 0xF }
    @inline(__always) set {
      bits = bits & ~(0xF << Self.taskStateShift) | UInt64(newValue & 0xF) << Self.taskStateShift
    }
  }

  /// Listed by a trace validator's index of held locks by address
  /// (`HeldAddressIndex`): a new entry is not, a copy of one keeps it.
  var isIndexed: Bool {
    @inline(__always) get { flag(Self.indexedBit) }
    @inline(__always) set { set(Self.indexedBit, newValue) }
  }

  /// This lock, or one held below it, makes the holder atomic
  /// (`SleepRule.makesAtomic`).
  var atomicSoFar: Bool {
    @inline(__always) get { flag(Self.atomicBit) }
    @inline(__always) set { set(Self.atomicBit, newValue) }
  }
}

/// The interrupt context of a held lock or thread, as lockdep's
/// `task_irq_context()` (softirq 1, hardirq 2) plus NMI (4).
public enum IRQContextID {
  /// Task (process) context.
  public static let task: UInt8 = 0
  /// A softirq-like handler.
  public static let softirq: UInt8 = 1
  /// A hard-interrupt-like handler.
  public static let hardirq: UInt8 = 2
  /// A non-maskable interrupt.
  public static let nmi: UInt8 = 4
  /// With `hardirq`: a forced-threaded handler on PREEMPT_RT, whose irq
  /// thread is a task of its own (its locks are a segment apart from a
  /// hard interrupt's, nested in it or around it).
  public static let forcedThread: UInt8 = 8
}
