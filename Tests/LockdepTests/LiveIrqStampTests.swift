import LockGraph
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A live report's irq event stamps name where interrupts and bottom
/// halves were last turned off and on (lockdep's `print_irqtrace_events()`:
/// `hardirqs last disabled at (N): <ip>`): the call site of the context
/// scope that did it, in its `Checked` form and in the free function's,
/// and of an `_irqsave` lock operation. They printed `0x0` before.
@Suite struct LiveIrqStampTests {
  init() { LockValidation.policy = .collect }

  /// This file, as reports name it.
  let file = "LockdepTests/LiveIrqStampTests.swift"

  /// The text of the first finding of `kind` that `body` causes, run in a
  /// scope on a thread of its own.
  func report(of kind: FindingKind, _ body: @escaping @Sendable () -> Void) -> String {
    let scope = LockValidationScope()
    pthread_join(spawn { scope.run(body) }, nil)
    return scope.findings.first { $0.kind == kind }?.text ?? ""
  }

  /// The line of `report` that starts with `prefix`.
  func line(_ prefix: String, in report: String) -> String {
    report.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init) ?? ""
  }

  @Test func stampsNameTheContextScopesCallSites() {
    let lock = Checked.SpinLock(name: "&irqstamp->lock")
    // (Bottom halves first: enabling them again turns interrupts off and
    // on around it, as `__local_bh_enable_ip()` does, which would be the
    // newest hardirq changes.)
    let (bhLine, hardirqLine) = (#line + 2, #line + 3)
    let report = report(of: .inconsistentLockState) {
      withBottomHalvesDisabled {}  // the free function
      Checked.withHardIRQ { lock.withLock {} }  // in hardirq: IN-HARDIRQ-W
      lock.withLock {}  // with interrupts on: HARDIRQ-ON-W
    }
    #expect(report.contains("{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}"), "\(report)")
    for prefix in ["hardirqs last  enabled at", "hardirqs last disabled at"] {
      #expect(line(prefix, in: report).contains("\(file):\(hardirqLine)"), "\(report)")
    }
    for prefix in ["softirqs last  enabled at", "softirqs last disabled at"] {
      #expect(line(prefix, in: report).contains("\(file):\(bhLine)"), "\(report)")
    }
  }

  @Test func anIRQSaveLockOperationIsWhereInterruptsWentOff() {
    let lock = Checked.RawSpinLock(name: "&irqstamp->raw")
    let other = Checked.SpinLock(name: "&irqstamp->other")
    let saveLine = #line + 3
    let report = report(of: .inconsistentLockState) {
      withHardIRQ { other.withLock {} }
      lock.withLockIRQSave {}
      other.withLock {}
    }
    for prefix in ["hardirqs last  enabled at", "hardirqs last disabled at"] {
      #expect(line(prefix, in: report).contains("\(file):\(saveLine)"), "\(report)")
    }
    // Bottom halves never changed: stamp 0, no place, as lockdep prints it.
    #expect(line("softirqs last disabled at", in: report) == "softirqs last disabled at (0): 0x0")
  }

  /// A sleep in atomic context names where preemption was disabled
  /// (`Preemption disabled at:`, the kernel's `preempt_disable_ip`): the
  /// scope's call site.
  @Test func preemptionDisabledAtIsTheScopesCallSite() {
    let disableLine = #line + 1
    let report = report(of: .sleepInAtomic) { withPreemptionDisabled { mightSleep() } }
    let lines = report.split(separator: "\n").map(String.init)
    let at = lines.firstIndex(of: "Preemption disabled at:").map { lines[$0 + 1] } ?? ""
    #expect(at.contains("\(file):\(disableLine)"), "\(report)")
  }

  /// On a thread marked real-time, preemption counts as disabled where it
  /// was marked: the report names `markCurrentThreadRealTime()`'s call
  /// site, and a `mightSleep()`'s stack starts at its own (both printed
  /// `0x0`, or began in Lockdep, before).
  @Test func aRealTimeThreadsPreemptionIsDisabledWhereItWasMarked() {
    let markLine = #line + 2
    let report = report(of: .sleepInAtomic) {
      LockValidation.markCurrentThreadRealTime()
      mightSleep()
    }
    let lines = report.split(separator: "\n").map(String.init)
    let at = lines.firstIndex(of: "Preemption disabled at:").map { lines[$0 + 1] } ?? ""
    #expect(at.contains("\(file):\(markLine)"), "\(report)")
    let top = lines.firstIndex(of: "stack backtrace:").map { lines[$0 + 1] } ?? ""
    #expect(top.contains("\(file):\(markLine + 1)"), "\(report)")
  }

  /// `Preemption disabled at:` is where the count left 0, whichever of a
  /// context event and a held raw spin lock came first (live events have
  /// no number). Marked real-time, then a raw lock taken: the mark (an
  /// independent trial's audio thread named the lock). A raw lock, then
  /// preemption disabled under it: the lock.
  @Test func preemptionDisabledAtIsTheFirstOfAContextAndAHeldLock() {
    let raw = Checked.RawSpinLock(name: "&irqstamp->first")
    let markLine = #line + 2
    let marked = report(of: .sleepInAtomic) {
      LockValidation.markCurrentThreadRealTime()
      raw.lock()
      mightSleep()
      raw.unlock()
    }
    let lockFirstLine = #line + 2
    let locked = report(of: .sleepInAtomic) {
      raw.lock()
      withPreemptionDisabled { mightSleep() }
      raw.unlock()
    }
    for (report, line) in [(marked, markLine), (locked, lockFirstLine)] {
      let lines = report.split(separator: "\n").map(String.init)
      let at = lines.firstIndex(of: "Preemption disabled at:").map { lines[$0 + 1] } ?? ""
      #expect(at.contains("\(file):\(line)"), "\(report)")
    }
  }
}
