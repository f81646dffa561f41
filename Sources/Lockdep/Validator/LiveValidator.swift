import Basics
import CLockdepSupport
import LockGraph
import Report
import Symbolizer
import Synchronization
import WaitContext

#if canImport(Glibc)
  import Glibc
#endif

/// The process-wide validator: one `ValidatorCore` that every thread's
/// `LiveThread` validates against, and what happens to findings.
///
/// Created on the first lock or context event, or when a signal handler is
/// installed (`installSignalHandler`, where validation is compiled in). Its own locks (`Mutex` of
/// the standard library) and allocations are never validated: nothing in
/// here uses the instrumented types.
final class LiveValidator: Sendable {
  /// The validator, made on first use. A child of a fork made after its
  /// making began must not ask for it (`Live.forkedAfterStart`): the
  /// thread making it may have been caught halfway, and a child waits for
  /// it forever (a program forking as another thread took its first lock
  /// hung: an independent check saw 17 children in 20 forked 1 ms after
  /// hang, the probe's `fork-while-starting` 19 of 60 forked every 100 µs).
  static var shared: LiveValidator {
    rlc_lockdep_note_validator_starting()
    return instance
  }
  private static let instance = LiveValidator()
  private static let created = Atomic<Bool>(false)
  /// Whether the validator exists yet (a lock freed before any lock event
  /// need not create it).
  static var isCreated: Bool { created.load(ordering: .relaxed) }

  let core: ValidatorCore
  let stacks = LiveStacks()
  let recorder: TraceRecorder?
  private let policyValue: Atomic<UInt8>
  /// Findings being rendered and printed (`handle`) now, on any thread.
  private let reportsInFlight = Atomic<Int>(0)
  /// Distinct findings outside any scope (a scope's are its owner's: a
  /// test's, or those a program such as `rawlockcheck demo` collects to
  /// judge itself): what `RAWLOCKCHECK_EXITCODE` counts.
  private let processFindings = Atomic<Int>(0)
  /// The status `RAWLOCKCHECK_EXITCODE` asks for when the process had a
  /// finding (`processFindings`), or nil.
  private let exitStatusOnFinding: Int32?
  private let state = PThreadMutex(State())
  private let symbolizer = PThreadMutex<Symbolizer?>(nil)
  /// The symbolizer of the stacks' module lines, once one replaced
  /// another, and how many lines it was made of.
  private let linesSymbolizer = PThreadMutex<(lines: Int, symbolizer: Symbolizer)?>(nil)

  private struct State {
    /// Misuse of the event stream (context exits without entries), and
    /// locks named otherwise than the class they share.
    var misuses: [String] = []
    /// The classes a differently named lock was said to share.
    var renamedClasses: Set<Int32> = []
    /// Where the first class of each name comes from, and the names
    /// said to be shared by two classes.
    var classPlaces: [String: String] = [:]
    var namesSaid: Set<String> = []
    /// Occurrences of each kind that no scope took (on a thread not run
    /// in a test's scope), counted so that a negative test that found
    /// nothing can say they happened meanwhile (`outsideScopes`).
    var outsideScopes: [FindingKind: Int] = [:]
    /// A lock was made past the class table (and validation turned off).
    var classTableFull = false
  }

  private init() {
    let environment = ProcessEnvironment.self
    if let setting = environment.value("RAWLOCKCHECK"), Self.environmentPolicy == nil {
      environment.ignore("RAWLOCKCHECK", setting, "is not off, print, abort or collect")
    }
    exitStatusOnFinding = environment.value("RAWLOCKCHECK_EXITCODE").flatMap { value in
      // One number; spaces around it are no matter.
      let words = value.split(whereSeparator: \.isWhitespace)
      guard words.count == 1, let status = Int32(words[0]), (1...255).contains(status) else {
        environment.ignore("RAWLOCKCHECK_EXITCODE", value, "is not a status from 1 to 255")
        return nil
      }
      return status
    }
    let policy = Self.policyAtStart
    policyValue = Atomic(policy.number)
    Live.off.store(policy == .off, ordering: .relaxed)
    let configuration = CheckConfiguration(
      proveRawLockNesting: !environment.flag("RAWLOCKCHECK_NO_RAW_NESTING"),
      preemptRT: environment.flag("RAWLOCKCHECK_PREEMPT_RT"))
    core = ValidatorCore(
      configuration: configuration,
      onFinding: { finding, isNew in LiveValidator.shared.handle(finding, isNew: isNew) })
    let stacks = self.stacks
    recorder = environment.value("RAWLOCKCHECK_TRACE").flatMap { path in
      // Nothing is ever validated: an empty trace would read as a clean run.
      guard Self.environmentPolicy != .off else {
        environment.ignore("RAWLOCKCHECK_TRACE", path, "records nothing with RAWLOCKCHECK=off")
        return nil
      }
      return TraceRecorder(path: path, modules: stacks.linesForNewTrace())
    }
    OrphanEvents.installExitHook()
    // The thread that ends the process (`exit()`, or `main` returning)
    // runs no pthread key destructor: its exit is checked here, as
    // lockdep's do_exit() checks a task's (locks it still holds are a
    // `locks-held-at-exit` finding, and its trace gets its `exit`).
    // Registered after the recorder's flush, so it runs before it.
    atexit {
      // No handler runs on this thread from here on: its events, queued
      // after its state ends below, would be validated by no one (as a
      // thread's key destructor does).
      rlc_block_signals_for_exit()
      LiveValidator.shared.waitForReports()
      // Handlers that ran on this thread before it took a lock: their
      // events are validated as its own (its state made now), then its
      // exit; a thread that ends the process runs no key destructor.
      OrphanEvents.threadExits()
      LiveThread.processExits()
      LiveValidator.shared.overrideExitStatus()
    }
    StackCapture.prepare()
    // A child of `fork()` without `exec` has one thread, and the validator's
    // locks (class registry, core, stacks) may be held by threads it did
    // not inherit: validating there could wait forever (30 children in 40
    // did, forked while another thread made lock classes). It validates
    // nothing, as POSIX allows it only async-signal-safe calls anyway.
    pthread_atfork(nil, nil) {
      Live.forkedChild.store(true, ordering: .relaxed)
      Live.off.store(true, ordering: .relaxed)
    }
    Self.created.store(true, ordering: .releasing)
  }

  /// The policy `RAWLOCKCHECK` sets: it overrides the program's choice.
  static let environmentPolicy = ValidationPolicy.fromEnvironment(
    ProcessEnvironment.value("RAWLOCKCHECK"))

  /// What is done with findings; `LockValidation.policy` changes it,
  /// unless `RAWLOCKCHECK` chose.
  var policy: ValidationPolicy {
    get { ValidationPolicy(number: policyValue.load(ordering: .relaxed)).unsafelyUnwrapped }
    set {
      guard Self.environmentPolicy == nil else { return }
      policyValue.store(newValue.number, ordering: .relaxed)
      // Off for good in a forked child and past the class table: locks
      // made there have no class to validate them with.
      Live.off.store(
        newValue == .off || Live.forkedChild.load(ordering: .relaxed)
          || Live.classTableFull.load(ordering: .relaxed), ordering: .relaxed)
    }
  }

  /// A policy the program chose before the validator started (in a
  /// build without validation compiled in, choosing one starts nothing).
  private static let requested = Atomic<UInt8>(UInt8.max)

  /// The program's choice of policy before the validator started, if any.
  static var requestedPolicy: ValidationPolicy? {
    ValidationPolicy(number: requested.load(ordering: .relaxed))
  }

  /// Keeps `policy` for when the validator starts (or gives it to the
  /// validator, if it started meanwhile).
  static func request(_ policy: ValidationPolicy) {
    requested.store(policy.number, ordering: .relaxed)
    if isCreated { shared.policy = policy }
  }

  /// The policy the validator will start with.
  static var policyAtStart: ValidationPolicy { environmentPolicy ?? requestedPolicy ?? .print }

  /// The class for a lock created at `site`: registered on first use,
  /// with `waits`, or the wait types of `kind`.
  func registerClass(site: LockClassSite, kind: LockKind, waits: ClassWaitTypes? = nil) -> ClassID {
    // A forked child validates nothing, nor a process past the class
    // table: its lock needs no class.
    if Live.forkedChild.load(ordering: .relaxed) || Live.classTableFull.load(ordering: .relaxed) {
      return .none
    }
    guard let waits = waits ?? (try? ClassWaitTypes(kind: kind)) else {
      fatalError("rawlockcheck: a \(kind.rawValue) lock class needs its inner wait type")
    }
    // Declared in the trace while the registry's lock is held: before any
    // other thread can take a lock of the class, and in the order classes
    // are registered, which numbers a name's `#2` live and offline alike
    // (declared after, a class raced by two threads was named in the
    // trace before its declaration, and two classes of one name made at
    // once were numbered the other way round offline).
    let recorder = self.recorder
    guard
      let (id, isNew) = core.classes.register(
        key: site.key, name: site.name, kind: kind, waits: waits,
        whenNew: recorder.map { recorder in
          { id in
            recorder.declareClass(id, key: site.key, name: site.name, kind: kind, waits: waits)
          }
        })
    else {
      classTableFull(site, kind: kind, waits: waits)
      return .none
    }
    if isNew {
      namedAgain(site)
    } else if site.isNamed && core.classes.name(id) != site.name {
      sharedClass(id, site: site)
    }
    return id
  }

  /// A lock made past the class table (`MAX_LOCKDEP_KEYS`, 1,048,576
  /// classes, which a program making a key per object reaches): reported
  /// once, on the thread that made the lock, then validation is off for
  /// the whole process, as lockdep turns itself off there. Its locks (of
  /// class `.none`, like a forked child's) are then never validated; it
  /// crashed the process before. A trace being recorded gets the class
  /// and a `might-lock` of it where the lock was made, its last event:
  /// its reader, past the same table, reports the same finding there (the
  /// trace ended there unsaid, and `report` found nothing).
  private func classTableFull(_ site: LockClassSite, kind: LockKind, waits: ClassWaitTypes) {
    let first = state.withLock { state in
      defer { state.classTableFull = true }
      return !state.classTableFull
    }
    if first {
      if let thread = LiveThread.current() {
        recorder?.declareClass(
          Self.pastTheClassTable, key: site.key, name: site.name, kind: kind, waits: waits)
        thread.classTableFull(name: site.name, recorded: Self.pastTheClassTable)
      } else {
        // No thread state to report it with (this thread is inside the
        // validator, or validation was off): said, not lost.
        printToStandardError(
          "rawlockcheck: BUG: MAX_LOCKDEP_KEYS too low! (\(ClassRegistry.capacity)): "
            + "\(QuotedText.printable(site.name)) has no class; validation of the whole "
            + "process stopped here\n")
      }
    }
    Live.classTableFull.store(true, ordering: .relaxed)
    Live.off.store(true, ordering: .relaxed)
  }

  /// The class a trace declares for the lock made past the class table:
  /// the first the table has no room for.
  static let pastTheClassTable = ClassID(Int32(ClassRegistry.capacity))

  /// A new class named as an earlier class of another place: reports
  /// print the later one `name#2` and traces key it so (lockdep's way), so
  /// a merge of traces or a graph file pairs the two by the order they
  /// were made in. Said once per name.
  private func namedAgain(_ site: LockClassSite) {
    let earlier: String? = state.withLock { state in
      if let first = state.classPlaces[site.name] {
        return state.namesSaid.insert(site.name).inserted ? first : nil
      }
      state.classPlaces[site.name] = site.place
      return nil
    }
    guard let earlier else { return }
    let message =
      "lock class \"\(site.name)\" of \(site.place) has the name of the class of \(earlier): "
      + "reports print and traces key the later made as \"\(site.name)#2\", so "
      + "report --merge and graph files pair them by the order they were made in: give each "
      + "a name of its own"
    state.withLock { $0.misuses.append(message) }
    if policy != .off && policy != .collect { printToStandardError("rawlockcheck: \(message)\n") }
  }

  /// A lock given the name `site.name` in class `id`, which has another
  /// name (made on the same line, or with the same `LockClassKey`): reports
  /// print the class's name, so it is said, once per class, as the kernel's
  /// `look_up_lock_class()` warns of "a different class with the same key".
  /// (A lock without a name of its own takes its class's: nothing to say.)
  private func sharedClass(_ id: ClassID, site: LockClassSite) {
    guard state.withLock({ $0.renamedClasses.insert(id.raw).inserted }) else { return }
    let className = core.classes.name(id)
    let advice =
      site.isKeyed
      ? "give it a LockClassKey of its own"
      : "create it in a place of its own, or give it a LockClassKey"
    let message =
      "lock \"\(site.name)\" of \(site.place) shares the class of \"\(className)\" (one class per place that creates "
      + "locks, or per LockClassKey), and reports name it \"\(className)\": \(advice), to tell them apart"
    state.withLock { $0.misuses.append(message) }
    if policy != .off && policy != .collect { printToStandardError("rawlockcheck: \(message)\n") }
  }

  /// The occurrences of each kind so far that no scope took: on threads
  /// not run in a test's scope (`handle`).
  var outsideScopes: [FindingKind: Int] { state.withLock { $0.outsideScopes } }

  /// What was said of misuse so far (`misuse`, `sharedClass`).
  var misuses: [String] { state.withLock { $0.misuses } }

  // MARK: Findings

  /// The core's callback: every occurrence goes to the scope that caused it
  /// (a test), a new distinct one is kept and, by policy, printed (unless
  /// its scope shows it: a test's issue carries the same report). A scope
  /// whose test is over (a task or thread that outlived it) is the
  /// process's instead: an issue recorded then would fail a test that
  /// passed.
  func handle(_ finding: Finding, isNew: Bool) {
    // The process's validator found it (a scope's fork reports to its
    // scope itself): a scope that validates on a fork never saw the
    // events, and its lock order stays in the process's validator, so the
    // finding is the process's too, not half of each.
    // A scope that ends meanwhile refuses it (`record`): the process's.
    let scope = LockValidationScope.current.flatMap {
      $0.hasEnded || $0.validatesOnFork || !$0.record(finding) ? nil : $0
    }
    if scope == nil {
      state.withLock { $0.outsideScopes[finding.kind, default: 0] += 1 }
    }
    // A repeat is only counted: the trace needs no flush for it (each
    // one flushed every thread's buffer, a write a repeat).
    guard isNew else { return }
    recorder?.flushAll()
    if scope == nil { processFindings.add(1, ordering: .releasing) }
    switch policy {
    case .off, .collect: break
    case .print:
      if scope?.showsFindings != true {
        reportsInFlight.add(1, ordering: .relaxed)
        printToStandardError(render(finding) + "\n")
        reportsInFlight.subtract(1, ordering: .releasing)
      }
    case .abort:
      reportsInFlight.add(1, ordering: .relaxed)
      // Named after who chose the policy: the environment, or the program.
      let chosen =
        Self.environmentPolicy == .abort ? "RAWLOCKCHECK=abort" : "LockValidation.policy = .abort"
      printToStandardError(render(finding) + "\nrawlockcheck: aborting (\(chosen))\n")
      // The event that caused it is recorded before the process ends, or
      // the trace would not replay the finding.
      LiveThread.recordCallingThreadsEvent()
      recorder?.flushAll()
      // From a replay of signal handlers' events, signals are blocked.
      rlc_unblock_crash_signals()
      abort()
    }
  }

  /// As the process exits: `RAWLOCKCHECK_EXITCODE`'s status, when a
  /// finding happened outside any scope (a forked child's exit is its own:
  /// it validated nothing), said in one line.
  func overrideExitStatus() {
    guard let status = exitStatusOnFinding, !Live.forkedChild.load(ordering: .relaxed) else {
      return
    }
    let count = processFindings.load(ordering: .acquiring)
    guard count > 0 else { return }
    // After what the program wrote and stdio still buffers, where both
    // go to one pipe or file (`2>&1`): the line ends the output.
    fflush(nil)
    printToStandardError(
      "rawlockcheck: \(count) distinct finding\(count == 1 ? "" : "s"); "
        + "exit status \(status) (RAWLOCKCHECK_EXITCODE)\n")
    rlc_override_exit_status(status)
  }

  /// Waits, at most 5 s, for findings other threads are printing (or
  /// printing before an abort) to be printed: run as the process exits, so
  /// that a finding at a detached thread's exit (its report is rendered
  /// there, symbolized, which takes a while the first time) is not lost
  /// when `main` returns meanwhile.
  func waitForReports() {
    var left = 5000
    while reportsInFlight.load(ordering: .acquiring) > 0 && left > 0 {
      usleep(1000)
      left -= 1
    }
  }

  /// A misuse of the event stream itself (a context exit without its entry).
  func misuse(_ message: String, thread: ThreadID) {
    state.withLock { $0.misuses.append(message) }
    if policy != .off && policy != .collect {
      printToStandardError("rawlockcheck: \(core.threadLabel(thread)): \(message)\n")
    }
  }

  /// Every distinct finding so far, each with its count of occurrences
  /// (the core's store: a repeat counts there).
  var findings: [Finding] { core.findings }

  /// The lockdep-style text of one finding, symbolized in-process.
  func render(_ finding: Finding) -> String {
    var report = TextReport(
      core: core, findings: [finding], eventCount: 0, source: "process",
      resolver: resolver())
    report.showsOccurrence = false
    return report.render(finding)
  }

  /// Frames of this process's stacks, through a symbolizer made on the
  /// first report. Once a library was unloaded (`dlclose`), the process's
  /// own objects no longer hold every stack's code: the stacks are then
  /// symbolized from the files of the mappings each was captured under
  /// (`LiveStacks`), as `rawlockcheck report` does with the trace. (Before
  /// 2026-12-07 a stack captured in an unloaded library printed as
  /// addresses, or, where another was mapped in its place, was named
  /// from that one.)
  func resolver() -> SymbolizingFrameResolver {
    let (symbols, unloaded) = stacks.symbols
    if unloaded || symbols.hasReplacedModules {
      let modules = symbols.symbolizerModules
      let symbolizer = linesSymbolizer.withLock { s in
        if let s, s.lines == symbols.modules.count { return s.symbolizer }
        let made = Symbolizer(modules: modules, debugDirectories: [])
        s = (symbols.modules.count, made)
        return made
      }
      return SymbolizingFrameResolver(
        symbolizer: symbolizer, stacks: symbols.stack, lookups: symbols.lookups,
        filter: FrameFilterChoice())
    }
    let symbolizer = self.symbolizer.withLock { s in
      if let s { return s }
      let made = Symbolizer.inProcess()
      s = made
      return made
    }
    let stacks = self.stacks
    return SymbolizingFrameResolver(
      symbolizer: symbolizer, stacks: { stacks.stack($0) }, filter: FrameFilterChoice())
  }
}

/// Writes to standard error through its descriptor (no buffering to lose).
func printToStandardError(_ text: String) {
  var bytes = Array(text.utf8)
  bytes.withUnsafeMutableBytes { b in
    var offset = 0
    while offset < b.count {
      let n = write(2, b.baseAddress! + offset, b.count - offset)
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      offset += n
    }
  }
}
