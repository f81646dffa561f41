/// lockdep's `struct irqtrace_events`: a thread's count of interrupt
/// state changes, and the newest change of each kind, stamped with that
/// count, as `print_irqtrace_events()` prints them under an inconsistent
/// lock state (`irq event stamp: N`, `hardirqs last  enabled at (N): ...`).
///
/// A change is counted where lockdep counts one: when interrupts go from
/// on to off or back (`lockdep_hardirqs_off()` and `_on()`: `irq-disable`
/// and `irq-enable` at the outermost level, and a hard interrupt's entry
/// and exit, which turn them off and back on), and when bottom halves do
/// (`lockdep_softirqs_off()` and `_on()`: `bh-disable` and `bh-enable`,
/// and a softirq's entry and exit). An event that changes neither state
/// (a nested disable) counts nothing, but for `bh-enable`, which with
/// interrupts on turns them off and on around its work, as the kernel's
/// `__local_bh_enable_ip()` does (`ThreadValidator.enableBottomHalves`).
/// Not modelled: the interrupts a softirq's handler loop turns on and off
/// (`handle_softirqs()`), and a PREEMPT_RT forced-threaded handler's
/// counts, which lockdep keeps on the irq thread (here its bottom halves
/// count on the interrupted thread, and its interrupts do not).
public struct IrqTrace: Sendable, Hashable {
  /// One change: its stamp (the count when it happened; 0 when there was
  /// none yet) and the event that made it.
  public struct Change: Sendable, Hashable {
    /// The count of changes when it happened, this one included; 0: none.
    public var stamp: UInt32 = 0
    /// The event that made it.
    public var origin = Origin()
  }

  /// Changes so far (`irq_events`).
  public var events: UInt32 = 0
  /// The newest change that turned interrupts on.
  public var hardirqsEnabled = Change()
  /// The newest change that turned interrupts off.
  public var hardirqsDisabled = Change()
  /// The newest change that turned bottom halves on.
  public var softirqsEnabled = Change()
  /// The newest change that turned bottom halves off.
  public var softirqsDisabled = Change()

  /// No change yet.
  public init() {}

  /// The interrupt state that changes count: bit 0 set when interrupts
  /// are off, bit 1 when bottom halves are.
  typealias State = UInt8

  /// Counts the changes from `before` to `after`, made by the event at
  /// `origin` (interrupts first, as lockdep's entry code turns them off
  /// before a softirq turns bottom halves off).
  @inline(__always)
  mutating func note(from before: State, to after: State, at origin: @autoclosure () -> Origin) {
    guard before != after else { return }
    noteChanges(from: before, to: after, at: origin())
  }

  @inline(never)
  mutating func noteChanges(from before: State, to after: State, at origin: Origin) {
    if (before ^ after) & 1 != 0 { noteHardirqs(off: after & 1 != 0, at: origin) }
    if (before ^ after) & 2 != 0 { noteSoftirqs(off: after & 2 != 0, at: origin) }
  }

  /// Counts interrupts turned off (or on) by the event at `origin`.
  mutating func noteHardirqs(off: Bool, at origin: Origin) {
    events &+= 1
    let change = Change(stamp: events, origin: origin)
    if off { hardirqsDisabled = change } else { hardirqsEnabled = change }
  }

  /// Counts bottom halves turned off (or on) by the event at `origin`.
  mutating func noteSoftirqs(off: Bool, at origin: Origin) {
    events &+= 1
    let change = Change(stamp: events, origin: origin)
    if off { softirqsDisabled = change } else { softirqsEnabled = change }
  }
}

extension ThreadState {
  /// What `IrqTrace` counts changes of, now.
  @inline(__always)
  var irqTraceState: IrqTrace.State {
    (hardirqsOff ? 1 : 0) | (softirqsEnabled ? 0 : 2)
  }
}
