import Basics
import LockGraph
import Symbolizer
import Synchronization
import WaitContext

/// Renders findings in the layout of Linux lockdep's reports
/// (`spec/reports.md`), so that people who read lockdep splats can read
/// these, and search for their titles.
public struct TextReport {
  /// The validator state the findings refer to (classes, threads, configuration).
  public var core: ValidatorCore
  /// The findings to print, in order.
  public var findings: [Finding]
  /// How many events were validated (for the summary line).
  public var eventCount: Int64
  /// The trace path or process name, for locations without a stack.
  public var source: String
  /// Turns origins into frames.
  public var resolver: any FrameResolving
  /// The names of merged sources by `Origin.trace` (`report --merge`, a
  /// graph file's recorded traces); empty when everything came from
  /// `source`.
  public var sources: [String] = []
  /// The run's number (`Origin.event`) of each source's first event, by
  /// `Origin.trace`, so that an event is numbered within its own trace;
  /// empty when the run numbers one trace's events.
  public var sourceFirstEvents: [Int64] = []
  /// Whether each block ends with where in the stream it first happened
  /// and how often (a trace's report); a live report prints each at once.
  public var showsOccurrence = true
  /// The frames this report (and every copy of it: its JSON and SARIF
  /// forms) may still print in full (`maxFramesInReport`).
  public var frameBudget = FrameBudget()

  /// A report of `findings`, which `core` found in `eventCount` events of `source`.
  public init(
    core: ValidatorCore, findings: [Finding], eventCount: Int64, source: String,
    resolver: any FrameResolving
  ) {
    self.core = core
    self.findings = findings
    self.eventCount = eventCount
    self.source = source
    self.resolver = resolver
  }

  /// A report of everything a trace's validator found.
  public init(validator: LockValidator, source: String, resolver: any FrameResolving) {
    self.init(
      core: validator.core, findings: validator.findings.findings, eventCount: validator.eventCount,
      source: source, resolver: resolver)
  }

  /// Distinct findings per kind.
  var summary: [FindingKind: Int] {
    var result: [FindingKind: Int] = [:]
    for f in findings { result[f.kind, default: 0] += 1 }
    return result
  }

  /// Every finding, then a one-line summary.
  public func render() -> String {
    var out = ""
    render { out += $0 }
    return out
  }

  /// `render()` handed to `write` a block at a time (each finding, then
  /// the summary line), so that a report is never held whole: its size
  /// grows with findings times held locks or chain links times frames, and
  /// a small trace can ask for gigabytes of it.
  public func render<E: Error>(_ write: (String) throws(E) -> Void) throws(E) {
    for finding in findings {
      try write(render(finding) + "\n")
    }
    try write(summaryLine() + "\n")
  }

  /// `trace.rlt: 12 events, 2 findings (invalid-wait-context 1, ...)`.
  public func summaryLine() -> String {
    let summary = summary
    let events = "\(eventCount) event\(eventCount == 1 ? "" : "s")"
    let source = QuotedText.printable(source)
    if summary.isEmpty { return "\(source): \(events), no findings" }
    let total = findings.count
    let parts = summary.keys.sorted().map { "\($0.rawValue) \(summary[$0]!)" }
    return
      "\(source): \(events), \(total) finding\(total == 1 ? "" : "s") (\(parts.joined(separator: ", ")))"
  }

  // MARK: Pieces shared by every block

  func title(_ text: String) -> String {
    let rule = String(repeating: "=", count: text.count)
    let dash = String(repeating: "-", count: text.count)
    return "\(rule)\n\(text)\n\(dash)\n"
  }

  func thread(_ id: ThreadID) -> String { QuotedText.printable(core.threadLabel(id)) }

  /// lockdep's `__print_lock_name()`.
  func name(_ c: ClassID) -> String { QuotedText.printable(core.classes[c].displayName) }

  /// lockdep's `print_lockdep_cache()` and a `nest_lock->name`: the name
  /// of the lock's own map, without `#N` or `/N`.
  func mapName(_ c: ClassID) -> String { QuotedText.printable(core.classes[c].name) }

  /// lockdep's `print_lock_name()`: ` (name){usage}-{outer:inner}`.
  func lockName(_ c: ClassID, usage: UsageMask? = nil) -> String {
    let cls = core.classes[c]
    let config = core.configuration
    let outer = config.number(cls.waits.effectiveOuter)
    let inner = config.number(cls.waits.inner)
    return "(\(name(c))){\((usage ?? cls.usage).usageCharacters)}-{\(outer):\(inner)}"
  }

  /// lockdep's `print_lock()`: ` (name){....}-{o:i}, at: where`.
  func lockLine(_ lock: LockSnapshot) -> String {
    " \(lockName(lock.lockClass, usage: lock.usage)), at: \(at(lock.origin))\n"
  }

  /// The innermost frame of an origin, or its trace location.
  func at(_ origin: Origin) -> String {
    if let frame = resolver.frames(for: origin, first: 1).first { return frame.reportText }
    return traceLocation(origin)
  }

  /// The name of the trace `origin` belongs to: its entry of `sources`,
  /// else `source`.
  public func sourceName(_ origin: Origin) -> String {
    let t = Int(origin.trace)
    return t >= 0 && t < sources.count ? sources[t] : source
  }

  /// The origin's event number (from 1) within its own trace.
  public func eventNumber(_ origin: Origin) -> Int64 {
    let t = Int(origin.trace)
    guard t >= 0 && t < sourceFirstEvents.count else { return origin.eventNumber }
    return origin.eventNumber - sourceFirstEvents[t]
  }

  /// `trace.rlt:LINE`, `trace.rltb: event N` (a binary trace's event: the
  /// trace is named, as a text trace's line names it), or the source's
  /// name for an origin of an earlier run (event -1) without a line.
  /// A name with a control character shows it escaped (`\u{A}`): the
  /// text stays one line per location.
  public func traceLocation(_ origin: Origin) -> String {
    let name = QuotedText.printable(sourceName(origin))
    if origin.line > 0 { return "\(name):\(origin.line)" }
    if origin.event < 0 { return name }
    return "\(name): event \(eventNumber(origin))"
  }

  /// lockdep's `lockdep_print_held_locks()`.
  func heldLocks(_ held: [LockSnapshot], thread id: ThreadID) -> String {
    if held.isEmpty { return "no locks held by \(thread(id)).\n" }
    var out = "\(held.count) lock\(held.count > 1 ? "s" : "") held by \(thread(id)):\n"
    for (i, lock) in held.enumerated() {
      out += " #\(i):" + lockLine(lock)
    }
    return out
  }

  /// The most frames of one stack a report prints (text, JSON, SARIF): a
  /// trace may have stacks of thousands of frames, and a report prints a
  /// stack at every place it appears, so a small trace could make
  /// gigabytes of report. A live capture takes far fewer.
  public static let maxFramesShown = 128

  /// The most frames a whole report prints in full: past them each stack
  /// prints its innermost frame only (where it happened). A cycle through
  /// a long chain, closed again and again, prints the chain's every link
  /// with its stack each time: a 1.4 MB trace of 1,000 such cycles, each
  /// link with a 128-frame stack, made a 1.1 GB text and a 14 GB JSON
  /// report; the budget keeps any report to about a million frame lines,
  /// plus one per stack.
  public static let maxFramesInReport = 1_000_000

  /// The frames of `origin` a report prints (`maxFramesShown`, innermost
  /// first; one once `maxFramesInReport` are printed), and how many more
  /// there are.
  public func shownFrames(for origin: Origin) -> (frames: [Frame], omitted: Int) {
    let frames = resolver.frames(for: origin, first: Self.maxFramesShown)
    // Counted (the stack symbolized whole) only when it has more.
    let count = frames.count < Self.maxFramesShown ? frames.count : resolver.frameCount(for: origin)
    let allowed = frameBudget.take(min(count, Self.maxFramesShown))
    guard count > allowed else { return (frames, 0) }
    return (Array(frames.prefix(allowed)), count - allowed)
  }

  /// A stack as lockdep's `print_lock_trace()`/`dump_stack()` prints it,
  /// with `indent` spaces before each frame.
  func stack(_ origin: Origin, indent: Int, numbered: Bool) -> String {
    let (frames, omitted) = shownFrames(for: origin)
    let pad = String(repeating: " ", count: indent)
    if frames.isEmpty { return "\(pad)\(traceLocation(origin)) (no stack recorded)\n" }
    var out = ""
    for (i, frame) in frames.enumerated() {
      let text = frame.isInlined ? frame.backtraceText + " [inlined]" : frame.backtraceText
      out += numbered ? "\(pad)#\(i) \(text)\n" : "\(pad)\(text)\n"
    }
    if omitted > 0 {
      out += "\(pad)... \(omitted) more frames"
      if frames.count < Self.maxFramesShown {
        out += " (the report printed \(frameBudget.frames) frames: one a stack from here)"
      }
      out += "\n"
    }
    return out
  }

  func backtrace(_ origin: Origin) -> String {
    "stack backtrace:\n" + stack(origin, indent: 1, numbered: true)
  }

  /// Where the finding first happened and how often.
  func occurrence(_ finding: Finding) -> String {
    let times = finding.count == 1 ? "once" : "\(finding.count) times"
    let place = traceLocation(finding.origin)
    // A location without a line is the event number already.
    if finding.origin.line <= 0 { return "found at \(place), \(times)\n" }
    return "found at \(place) (event \(eventNumber(finding.origin))), \(times)\n"
  }
}

/// The frames a report may still print in full, shared by its copies.
public final class FrameBudget: Sendable {
  private let remaining: Atomic<Int>
  /// The budget it started with.
  public let frames: Int

  /// A budget of `frames` frames.
  public init(frames: Int = TextReport.maxFramesInReport) {
    self.frames = frames
    remaining = Atomic(frames)
  }

  /// How many of `wanted` frames (at least 1, when any) to print, taken
  /// from the budget: all while it lasts, then one.
  func take(_ wanted: Int) -> Int {
    guard wanted > 1 else { return wanted }
    let left = remaining.load(ordering: .relaxed)
    let allowed = left >= wanted ? wanted : max(1, left)
    remaining.subtract(allowed, ordering: .relaxed)
    return allowed
  }
}
