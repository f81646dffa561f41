import WaitContext

/// The sleep and wait-context rules for one lock class acquired in plain
/// task context, folded into one table so that the fast path checks an
/// acquisition with one shift instead of evaluating the rules.
///
/// A held lock in the task segment carries a *task state*: the wait type
/// allowed after it (`HeldLock.allowedAfter`, 0 to 5) in the low three bits
/// and, in bit 3, whether the holder is atomic by now
/// (`HeldLock.atomicSoFar`). The table holds, for each state before an
/// acquisition of the class, the state after it, or `refused` where the
/// acquisition breaks a rule (or the class takes no part in the graph):
/// then the full path runs and reports.
///
/// Invariant: `next(after:)` gives exactly what `ThreadValidator.push`
/// computes for `allowedAfter` and `atomicSoFar`, for every state in which
/// the sleep check (`SleepRule.sleeps` while atomic) and the wait-context
/// check (`WaitContextRule.check`) find nothing.
public struct TaskTransitions: Sendable, Equatable {
  /// Sixteen 4-bit entries: entry `s` is the state after an acquisition
  /// from state `s`.
  @usableFromInline let table: UInt64

  /// The entry of an acquisition the fast path may not take.
  @inlinable static var refused: UInt8 { 0xF }

  /// The state of an empty task segment: everything allowed, not atomic.
  @inlinable static var empty: UInt8 { WaitType.task.rawValue }

  /// The task state of `allowed` and `atomic`.
  @inlinable @inline(__always)
  static func state(allowed: WaitType, atomic: Bool) -> UInt8 {
    allowed.rawValue | (atomic ? 8 : 0)
  }

  /// The table of a class with wait types `waits` under `configuration`;
  /// every entry refused when the class does not `check`.
  init(waits: ClassWaitTypes, check: Bool, configuration: CheckConfiguration) {
    var table = UInt64.max
    if check {
      for allowed in WaitType.allCases {
        for atomic in [false, true] {
          let before = Self.state(allowed: allowed, atomic: atomic)
          if atomic && SleepRule.sleeps(waits, configuration: configuration) { continue }
          if let verdict = WaitContextRule.check(
            acquiring: waits, isTrylock: false, allowed: allowed, configuration: configuration),
            !verdict.isValid
          {
            continue
          }
          let after = Self.state(
            allowed: WaitContextRule.lower(
              allowed, holder: waits.inner, lockType: waits.lockType, configuration: configuration),
            atomic: atomic || SleepRule.makesAtomic(waits, configuration: configuration))
          let shift = UInt64(before) * 4
          table = table & ~(0xF << shift) | UInt64(after) << shift
        }
      }
    }
    self.table = table
  }

  /// The state after an acquisition from state `before` (a value below
  /// 16), or `refused`.
  @inlinable @inline(__always)
  func next(after before: UInt8) -> UInt8 {
    UInt8(truncatingIfNeeded: table &>> (UInt64(before) &* 4)) & 0xF
  }
}
