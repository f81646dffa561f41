import Basics
import LockGraph
import Symbolizer

/// The machine-readable report of `spec/reports.md`.
public struct JSONReport {
  /// The findings, their validator state, source and frame resolver.
  public var report: TextReport
  /// The tool's version, printed in the object.
  public var version: String

  /// The JSON form of `report`.
  public init(report: TextReport, version: String) {
    self.report = report
    self.version = version
  }

  var core: ValidatorCore { report.core }

  /// The whole report as one JSON object.
  public func value() -> JSONValue {
    let config = core.configuration
    let summary = report.summary
    return .object([
      ("tool", .string("rawlockcheck")),
      ("version", .string(version)),
      ("source", .string(report.source)),
      ("events", .int(report.eventCount)),
      (
        "config",
        .object([
          ("proveRawLockNesting", .bool(config.proveRawLockNesting)),
          ("preemptRT", .bool(config.preemptRT)),
        ])
      ),
      ("findings", findingsValue()),
      ("summary", .object(summary.keys.sorted().map { ($0.rawValue, .int(summary[$0]!)) })),
    ])
  }

  /// The findings, each made as it is written: a finding may be large (a
  /// long chain, many held locks with long names), and the document is
  /// written a piece at a time (`JSONValue.write(pretty:chunk:to:)`).
  func findingsValue() -> JSONValue {
    // Only read while the document is written, on the writing thread.
    nonisolated(unsafe) let me = self
    let findings = report.findings
    return .elements(count: findings.count) { me.finding(findings[$0]) }
  }

  /// One finding as a JSON object.
  public func finding(_ f: Finding) -> JSONValue {
    var fields: [(String, JSONValue)] = [
      ("kind", .string(f.kind.rawValue)),
      ("title", .string(title(f))),
      ("count", .int(f.count)),
      (
        "thread",
        .object([
          ("id", .string(core.threadToken(f.thread))),
          ("name", .string(core.threadName(f.thread))),
        ])
      ),
      ("event", event(f.origin)),
    ]
    if let lock = f.lock { fields.append(("lock", lockObject(lock, frames: false))) }
    switch f.detail {
    case .invalidWaitContext(let context, let allowed, _):
      fields.append(("context", .int(core.configuration.number(context))))
      fields.append(("allowed", .int(core.configuration.number(allowed))))
    case .circularDependency(let held, let chain):
      fields.append(("holding", lockObject(held, frames: true)))
      fields.append(("chain", .array(chain.map(link))))
    case .recursiveLocking(let held):
      fields.append(("holding", lockObject(held, frames: true)))
    case .inconsistentLockState(let previous, let new, let previousOrigin, let state):
      fields.append(("previousUsage", .string(previous.usageString)))
      fields.append(("newUsage", .string(new.usageString)))
      fields.append(("irqState", .string(state)))
      // Where the earlier usage was registered: its event (the text's
      // `file:line`, which a trace without stacks has alone) and frames.
      if let o = previousOrigin {
        fields.append(("previousEvent", event(o)))
        fields += frames(o, key: "previousFrames")
      }
    case .irqUnsafeDependency(
      let held, let safe, let safeBit, let safeOrigin, let unsafe, let unsafeBit, let unsafeOrigin,
      let safeToHeld, let lockToUnsafe, let state):
      fields.append(("holding", lockObject(held, frames: true)))
      fields.append(("irqClass", .string(state)))
      // The text's `[HC0[0]:SC0[0]:HE0:SE1] is trying to acquire`.
      fields.append(("irqState", .string(f.irqState)))
      // Each with where it became safe or unsafe (the text's "which became
      // ... at:"), when known: its event and frames.
      fields.append(("safe", usageClassObject(safe, safeBit, at: safeOrigin)))
      fields.append(("unsafe", usageClassObject(unsafe, unsafeBit, at: unsafeOrigin)))
      fields.append(
        ("safeToHolding", .array(TakenLinks.safeSide(safeToHeld, held: held).map(link))))
      fields.append(("lockToUnsafe", .array(lockToUnsafe.map(link))))
    case .irqInversion(let forwards, let other, let irqClass, let path):
      fields.append(("direction", .string(forwards ? "forwards" : "backwards")))
      fields.append(("irqClass", .string(irqClass)))
      fields.append(("other", classObject(other, extra: [])))
      let taken = TakenLinks.inversion(path, forwards: forwards, lock: f.lock, other: other)
      fields.append(("chain", .array(taken.map(link))))
    case .badUnlockBalance:
      break
    case .locksHeldAtExit(let interrupt, let scope):
      if let interrupt { fields.append(("interrupt", .string(interrupt))) }
      if let scope { fields.append(("scope", .string(scope))) }
    case .heldLockFreed(let from, let to, let holder, let reinitialized):
      fields.append(
        ("range", .array([.string(NumberText.hex(from)), .string(NumberText.hex(to))])))
      fields.append(("holder", .string(core.threadToken(holder))))
      fields.append(("reinitialized", .bool(reinitialized)))
    case .sleepInAtomic(let reasons, let atomic):
      fields.append(("reasons", .array(reasons.map(JSONValue.string))))
      fields.append(("preemptCount", .int(Int(atomic.preemptCount))))
      fields.append(("rcuNestDepth", .int(atomic.rcuDepth)))
      fields.append(("rcuNestDepthExpected", .int(atomic.rcuDepthExpected)))
      // The text's `in_atomic()` and `irqs_disabled()` (`__might_resched()`).
      fields.append(("inAtomic", .bool(atomic.preemptCount != 0)))
      fields.append(
        (
          "irqsDisabled",
          .bool(
            reasons.contains("interrupts disabled") || reasons.contains("in hardirq context")
              || reasons.contains("in NMI context"))
        ))
      if let disabledAt = atomic.preemptionDisabledAt, report.isKnown(disabledAt) {
        fields.append(("preemptionDisabledAt", stamped(disabledAt, stamp: nil)))
      }
    case .nestedLockNotTaken(let nest):
      fields.append(("nest", classObject(nest, extra: [])))
    case .limitExceeded(let limit, let max, let consequence):
      fields.append(("limit", .string(limit)))
      fields.append(("max", .int(max)))
      fields.append(("consequence", .string(consequence)))
    }
    if let trace = f.irqTrace { fields.append(("irqEvents", irqEvents(trace))) }
    fields.append(("held", .array(f.held.map { lockObject($0, frames: true) })))
    fields += frames(f.origin)
    return .object(fields)
  }

  /// The text's `irq event stamp:` block (lockdep's
  /// `print_irqtrace_events()`): the count of interrupt state changes, and
  /// the newest change of each kind with its stamp and, when it has a
  /// place, its event and frames (a stamp of 0: none yet).
  func irqEvents(_ trace: IrqTrace) -> JSONValue {
    func change(_ c: IrqTrace.Change) -> JSONValue {
      stamped(c.stamp != 0 && report.isKnown(c.origin) ? c.origin : nil, stamp: c.stamp)
    }
    return .object([
      ("stamp", .int(Int(trace.events))),
      ("hardirqsLastEnabled", change(trace.hardirqsEnabled)),
      ("hardirqsLastDisabled", change(trace.hardirqsDisabled)),
      ("softirqsLastEnabled", change(trace.softirqsEnabled)),
      ("softirqsLastDisabled", change(trace.softirqsDisabled)),
    ])
  }

  /// A place the text prints as `at (stamp): <where>`: the stamp (when
  /// there is one), the event and its frames (when the place is known).
  func stamped(_ origin: Origin?, stamp: UInt32?) -> JSONValue {
    var fields: [(String, JSONValue)] = []
    if let stamp { fields.append(("stamp", .int(Int(stamp)))) }
    if let origin {
      fields.append(("event", event(origin)))
      fields += frames(origin)
    }
    return .object(fields)
  }

  func title(_ f: Finding) -> String {
    let text: String
    if case .limitExceeded(let limit, _, _) = f.detail {
      text = "BUG: \(limit) too low!"
    } else {
      text = f.kind.title
    }
    return text.hasPrefix("[ ") ? String(text.dropFirst(2).dropLast(2)) : text
  }

  func event(_ origin: Origin) -> JSONValue {
    var fields: [(String, JSONValue)] = [("index", .int(report.eventNumber(origin)))]
    if origin.line > 0 { fields.append(("line", .int(origin.line))) }
    if !report.sources.isEmpty { fields.append(("trace", .string(report.sourceName(origin)))) }
    return .object(fields)
  }

  /// Class `c` with the usage `bit` it has, and where it got it, when
  /// known (`origin`: its event and frames).
  func usageClassObject(_ c: ClassID, _ bit: UsageBit, at origin: Origin?) -> JSONValue {
    var extra: [(String, JSONValue)] = [("usage", .string(bit.usageString))]
    if let origin { extra += [("event", event(origin))] + frames(origin) }
    return classObject(c, extra: extra)
  }

  func classObject(_ c: ClassID, extra: [(String, JSONValue)]) -> JSONValue {
    let cls = core.classes[c]
    let config = core.configuration
    var fields: [(String, JSONValue)] = [
      ("class", .string(cls.key)),
      // The name as declared: the text's `#N` and `/N` are `class` and
      // `subclass` here.
      ("name", .string(cls.name)),
      ("outer", .int(config.number(cls.waits.effectiveOuter))),
      ("inner", .int(config.number(cls.waits.inner))),
    ]
    if cls.subclass != 0 { fields.append(("subclass", .int(cls.subclass))) }
    return .object(fields + extra)
  }

  func lockObject(_ lock: LockSnapshot, frames withFrames: Bool) -> JSONValue {
    var extra: [(String, JSONValue)] = [("usage", .string(lock.usage.usageCharacters))]
    if lock.read != .exclusive {
      extra.append(("read", .string(lock.read == .recursive ? "recursive" : "shared")))
    }
    if lock.isTrylock { extra.append(("try", .bool(true))) }
    if lock.instance != 0 { extra.append(("instance", .string(NumberText.hex(lock.instance)))) }
    if lock.origin.line > 0 { extra.append(("line", .int(lock.origin.line))) }
    if !report.sources.isEmpty {
      extra.append(("trace", .string(report.sourceName(lock.origin))))
    }
    if withFrames { extra += frames(lock.origin) }
    return classObject(lock.lockClass, extra: extra)
  }

  func link(_ l: ChainLink) -> JSONValue {
    // The usage characters the text prints with the link's class
    // (`{+.+.}`), as the finding saw them.
    var extra: [(String, JSONValue)] =
      l.usage.map { [("usage", .string($0.usageCharacters))] } ?? []
    if let t = l.thread { extra.append(("thread", .string(core.threadToken(t)))) }
    if l.origin.line > 0 { extra.append(("line", .int(l.origin.line))) }
    if !report.sources.isEmpty { extra.append(("trace", .string(report.sourceName(l.origin)))) }
    extra += frames(l.origin)
    return classObject(l.lockClass, extra: extra)
  }

  /// `origin`'s frames as the field `key` (`TextReport.maxFramesShown` of
  /// them at most, one once the report's frame budget is spent:
  /// `TextReport.shownFrames(for:)`), and, when there are more, how many
  /// as `<key>Omitted`.
  func frames(_ origin: Origin, key: String = "frames") -> [(String, JSONValue)] {
    let (shown, omitted) = report.shownFrames(for: origin)
    var fields = [(key, frames(shown))]
    if omitted > 0 { fields.append((key + "Omitted", .int(omitted))) }
    return fields
  }

  /// `frames` as JSON objects.
  func frames(_ frames: [Frame]) -> JSONValue {
    .array(
      frames.map { frame in
        var fields: [(String, JSONValue)] = [
          ("address", .string(NumberText.hex(frame.address))),
          ("function", .optional(frame.function)),
          ("file", .optional(frame.sourceFile)),
          ("line", frame.sourceFile == nil ? .null : .int(frame.line)),
          ("inlined", .bool(frame.isInlined)),
          ("module", .optional(frame.moduleName)),
        ]
        if frame.column > 0, frame.sourceFile != nil {
          fields.insert(("column", .int(frame.column)), at: 4)
        }
        return .object(fields)
      })
  }
}
