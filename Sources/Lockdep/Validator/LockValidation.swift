import CLockdepSupport
import LockGraph
import Synchronization

/// The process-wide validator, as a program controls and reads it.
public enum LockValidation {
  /// What is done with findings: `print` unless the program chooses
  /// otherwise; `RAWLOCKCHECK` (`off`, `print`, `abort`, `collect`) in the
  /// environment overrides the program's choice, so that a run can be made
  /// to abort at the first finding, or be silenced, without a rebuild.
  /// Without validation compiled in, choosing starts nothing (a `Checked`
  /// lock that starts the validator later takes the choice).
  public static var policy: ValidationPolicy {
    get {
      guard lockValidationIsCompiledIn || LiveValidator.isCreated else {
        return LiveValidator.policyAtStart
      }
      // A child forked while the validator was being made validates nothing.
      if Live.forkedAfterStart { return .off }
      return LiveValidator.shared.policy
    }
    set {
      guard lockValidationIsCompiledIn || LiveValidator.isCreated else {
        return LiveValidator.request(newValue)
      }
      if Live.forkedAfterStart { return }
      LiveValidator.shared.policy = newValue
    }
  }

  /// Whether this run validates the lock types and markers that validate
  /// in a debug build (`RawSpinLock`, `Mutex`, `withHardIRQ {}`, ...):
  /// validation is compiled in (`lockValidationIsCompiledIn`) and not off
  /// (`RAWLOCKCHECK=off`, or `policy` `.off`). What a negative test
  /// asserts of the findings it got holds only then:
  /// `if LockValidation.isChecking { #expect(found.count == 1) }`.
  public static var isChecking: Bool { lockValidationIsCompiledIn && policy != .off }

  /// Whether live validation checks as for a PREEMPT_RT kernel
  /// (`RAWLOCKCHECK_PREEMPT_RT`): `spinlock_t` sleeps there, and its
  /// `_irqsave` form leaves interrupts on for the validator
  /// (`SpinLock.withLockIRQSave`, which blocks the installed handlers'
  /// signals all the same).
  /// False while no validator runs (validation compiled out, and no
  /// `Checked` lock started one): asking starts nothing.
  public static var checksAsPreemptRT: Bool {
    guard lockValidationIsCompiledIn || LiveValidator.isCreated, !Live.forkedAfterStart else {
      return false
    }
    return LiveValidator.shared.core.configuration.preemptRT
  }

  /// Whether live validation checks raw lock nesting
  /// (CONFIG_PROVE_RAW_LOCK_NESTING; off with
  /// `RAWLOCKCHECK_NO_RAW_NESTING`, where a `spinlock_t` counts as a spin
  /// lock, as lockdep did before that option). False while no validator
  /// runs, as `checksAsPreemptRT`.
  public static var checksRawLockNesting: Bool {
    guard lockValidationIsCompiledIn || LiveValidator.isCreated, !Live.forkedAfterStart else {
      return false
    }
    return LiveValidator.shared.core.configuration.proveRawLockNesting
  }

  /// Every distinct finding so far, in the order first seen, each with
  /// its `count` of occurrences.
  /// (Signal handlers' events still queued on the calling thread are
  /// validated first.)
  /// Without validation compiled in, and no `Checked` lock started the
  /// validator, there are none (and asking starts nothing).
  public static var findings: [Finding] {
    guard lockValidationIsCompiledIn || LiveValidator.isCreated, !Live.forkedAfterStart else {
      return []
    }
    Live.replayPending()
    return LiveValidator.shared.findings
  }

  /// The lockdep-style text of a finding, symbolized from this process.
  public static func describe(_ finding: Finding) -> String {
    LiveValidator.shared.render(finding)
  }

  /// The names of the locks a finding is about, each once: the lock it
  /// concerns first, then the other locks its kind names (a cycle's, the
  /// irq-safe and irq-unsafe ones, those held at an exit), so that a
  /// program or test can check which locks were found at fault:
  /// `LockValidation.lockNames(of: f).contains("&zone->lock")`.
  public static func lockNames(of finding: Finding) -> [String] {
    LiveValidator.shared.core.lockNames(of: finding)
  }

  /// The address the calling function returns to (lockdep's `_RET_IP_`):
  /// its call site, for a lock type of your own to pass to
  /// `LockdepMap.acquire(from:)` or `KernelLock.lock(from:)`, so that a
  /// report names the line that took your lock, not your lock's
  /// function. Call it from that function itself, and keep that function
  /// from being inlined (`@inline(never)`): inlined, its call site is its
  /// caller's.
  @inline(never)
  public static func returnAddress() -> UInt64 {
    UInt64(UInt(bitPattern: rlc_return_address_of_caller()))
  }

  /// Writes every thread's buffered events of the trace being recorded
  /// (`RAWLOCKCHECK_TRACE`) to its file, as the process's exit does. Call
  /// it before `_exit()` or `_Exit()`, which end the process without the
  /// exit handlers that write them: their events would be lost (a trace
  /// had 2 of a program's 12). Does nothing when no trace is recorded.
  public static func flushTrace() {
    guard LiveValidator.isCreated else { return }
    TraceRecorder.current?.flushAll()
  }

  /// Names the calling thread in reports (lockdep's `comm`), and for the
  /// system (at most 15 bytes there).
  public static func setThreadName(_ name: String) {
    _ = rlc_set_thread_name(name)
    // Without validation compiled in, only a running validator (one a
    // `Checked` lock started) hears of it.
    guard lockValidationIsCompiledIn || LiveValidator.isCreated else { return }
    let known = rlc_lockdep_thread() != nil
    guard let thread = LiveThread.current() else { return }
    // A state made just now took its name from the system's, set above:
    // named again, a trace declared the thread twice. (The system keeps
    // 15 bytes of a longer name, which is named here in full.)
    if !known && LiveThread.currentThreadName() == name { return }
    LiveValidator.shared.core.nameThread(thread.id, name)
    thread.recording?.name(name)
  }

  /// Whether `markCurrentThreadRealTime()` in a task was said (once).
  private static let saidRealTimeInTask = Atomic<Bool>(false)

  /// Marks the calling thread real-time (an audio or control thread): an
  /// atomic context for the rest of its life, in which nothing may sleep
  /// (a sleeping lock or `mightSleep()` there is a finding), as preemption
  /// disabled is in the kernel.
  ///
  /// Call it on a thread of your own (an audio callback's, a
  /// `SpawnedThread`). In a Swift task (an `async` function, an async
  /// test) it would mark whichever thread of the pool runs the task now,
  /// for good, and every later job there, other tests' among them, would
  /// be validated as real-time: there it marks nothing and says so on
  /// standard error (once per process, and not with validation off). A
  /// block on a dispatch queue is not told apart, and marks the pool's
  /// thread that runs it: every later block there, of any queue, and every
  /// Swift task's job there (the global executor's threads are
  /// libdispatch's on Linux) is then validated as real-time. For a section
  /// of a thread that is not your own, use `withPreemptionDisabled(_:)`.
  /// Without validation compiled in (release builds), it does nothing.
  @inline(never)  // its return address is its call site
  public static func markCurrentThreadRealTime() {
    // At its call site: a finding's "Preemption disabled at:" names it.
    let callSite = UInt64(UInt(bitPattern: rlc_return_address()))
    guard lockValidationIsCompiledIn else { return }
    if withUnsafeCurrentTask(body: { $0 != nil }) {
      if policy != .off && !saidRealTimeInTask.exchange(true, ordering: .relaxed) {
        printToStandardError(
          "rawlockcheck: markCurrentThreadRealTime() in a Swift task marks nothing: the task's "
            + "thread runs other tasks' jobs next (call it on a thread of your own)\n")
      }
      return
    }
    Live.event(.preemptDisable, ip: callSite)
  }
}
