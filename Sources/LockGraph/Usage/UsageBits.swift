/// Lockdep's usage bits (`enum lock_usage_bit`), in lockdep's numbering:
/// per interrupt state (hardirq, softirq) four bits, `USED_IN` or `ENABLED`
/// (bit 1, the direction) times write or read (bit 0).
public enum UsageBit: UInt8, Sendable, CaseIterable {
  /// `LOCK_USED_IN_HARDIRQ`, its `_READ` twin, `LOCK_ENABLED_HARDIRQ` and its
  /// `_READ` twin.
  case usedInHardirq = 0
  case usedInHardirqRead, enabledHardirq, enabledHardirqRead
  /// The same four for softirqs.
  case usedInSoftirq, usedInSoftirqRead, enabledSoftirq, enabledSoftirqRead
  /// `LOCK_USED` and `LOCK_USED_READ`: acquired at all.
  case used, usedRead
  /// lockdep's `LOCK_USAGE_STATES`, which `usage_str[]` names `IN-NMI`:
  /// not a bit any class has, only the new state of `verify_lock_unused()`'s
  /// report (an acquisition in an NMI of a class used before).
  case inNMI

  static let readFlag: UInt8 = 1
  static let directionFlag: UInt8 = 2

  @inlinable var mask: UsageMask { UsageMask(rawValue: 1 << UInt16(rawValue)) }
  var isRead: Bool { rawValue & Self.readFlag != 0 }
  var isIrqBit: Bool { rawValue < 8 }

  /// The write bit of the same interrupt state in the opposite direction
  /// (lockdep's `exclusive_bit()`).
  var exclusive: UsageBit {
    UsageBit(rawValue: (rawValue & ~3) | ((rawValue & Self.directionFlag) ^ Self.directionFlag))!
  }

  /// The read variant of a write bit.
  var readVariant: UsageBit { UsageBit(rawValue: rawValue | Self.readFlag)! }

  /// lockdep's `usage_str[]`.
  public var usageString: String {
    switch self {
    case .usedInHardirq: "IN-HARDIRQ-W"
    case .usedInHardirqRead: "IN-HARDIRQ-R"
    case .enabledHardirq: "HARDIRQ-ON-W"
    case .enabledHardirqRead: "HARDIRQ-ON-R"
    case .usedInSoftirq: "IN-SOFTIRQ-W"
    case .usedInSoftirqRead: "IN-SOFTIRQ-R"
    case .enabledSoftirq: "SOFTIRQ-ON-W"
    case .enabledSoftirqRead: "SOFTIRQ-ON-R"
    case .used: "INITIAL USE"
    case .usedRead: "INITIAL READ USE"
    case .inNMI: "IN-NMI"
    }
  }

  /// lockdep's `state_name()`: `HARDIRQ`, `SOFTIRQ-READ`, ...
  public var stateName: String {
    let state = rawValue < 4 ? "HARDIRQ" : "SOFTIRQ"
    return isRead ? state + "-READ" : state
  }
}

/// A set of usage bits (lockdep's `usage_mask`).
public struct UsageMask: OptionSet, Sendable, Hashable {
  /// One bit per `UsageBit`, at the bit's raw value.
  public var rawValue: UInt16
  /// The set whose bits are set in `rawValue`.
  @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

  /// Every `USED_IN_*` bit (`LOCKF_USED_IN_IRQ_ALL`).
  static let usedInAll = UsageMask(rawValue: 0x33)
  /// Every `ENABLED_*` bit (`LOCKF_ENABLED_IRQ_ALL`).
  static let enabledAll = UsageMask(rawValue: 0xCC)
  static let irqRead = UsageMask(rawValue: 0xAA)
  static let irqWrite = UsageMask(rawValue: 0x55)

  @inlinable func contains(_ bit: UsageBit) -> Bool { rawValue & bit.mask.rawValue != 0 }

  /// The bits an acquisition sets in plain task context (interrupts and
  /// bottom halves on, not a trylock): what `usageBits(of:)` gives for it.
  /// (Bit operations, not an array literal: that allocates in debug builds.)
  @inlinable @inline(__always)
  static func taskContext(read: ReadMode) -> UsageMask {
    read.isRead
      ? UsageMask(
        rawValue: UsageBit.usedRead.mask.rawValue | UsageBit.enabledHardirqRead.mask.rawValue
          | UsageBit.enabledSoftirqRead.mask.rawValue)
      : UsageMask(
        rawValue: UsageBit.used.mask.rawValue | UsageBit.enabledHardirq.mask.rawValue
          | UsageBit.enabledSoftirq.mask.rawValue)
  }

  /// Swaps `USED_IN` and `ENABLED` (lockdep's `invert_dir_mask()`).
  var invertedDirection: UsageMask {
    UsageMask(
      rawValue: ((rawValue & Self.enabledAll.rawValue) >> 2)
        | ((rawValue & Self.usedInAll.rawValue) << 2))
  }

  /// The usages that conflict with these (lockdep's `exclusive_mask()`):
  /// the opposite direction, read or write. `original_mask()` is the same
  /// formula, so `exclusive` serves both.
  var exclusive: UsageMask {
    var e = invertedDirection.rawValue
    e |= (e & Self.irqRead.rawValue) >> 1
    e |= (e & Self.irqWrite.rawValue) << 1
    return UsageMask(rawValue: e)
  }

  /// The first pair of a bit of `self` and a conflicting bit of `other`
  /// (lockdep's `find_exclusive_match()`).
  func firstExclusiveMatch(in other: UsageMask) -> (UsageBit, UsageBit)? {
    for raw in UInt8(0)..<8 where rawValue & (1 << UInt16(raw)) != 0 {
      let bit = UsageBit(rawValue: raw)!
      let excl = bit.exclusive
      if other.contains(excl) { return (bit, excl) }
      if other.contains(excl.readVariant) { return (bit, excl.readVariant) }
    }
    return nil
  }

  /// lockdep's four usage characters: hardirq, hardirq-read, softirq,
  /// softirq-read; `.` unused, `-` used in irq, `+` irq enabled, `?` both.
  public var usageCharacters: String {
    func char(_ usedIn: UsageBit) -> Character {
      let enabled = UsageBit(rawValue: usedIn.rawValue + 2)!
      if contains(enabled) { return contains(usedIn) ? "?" : "+" }
      return contains(usedIn) ? "-" : "."
    }
    return String([
      char(.usedInHardirq), char(.usedInHardirqRead), char(.usedInSoftirq),
      char(.usedInSoftirqRead),
    ])
  }
}
