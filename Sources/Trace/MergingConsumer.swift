import Basics
import LockGraph
import WaitContext

/// Feeds one of several sources (the traces of `report --merge`, after a
/// graph file's classes) into one `LockValidator`, so that the dependency
/// graph is their union:
/// - a class is keyed by its trace key: a key declared by an earlier
///   source is the same class, and must be of the same kind and wait types;
/// - threads stay apart: each token is prefixed with the source's number
///   (`2:17` is thread 17 of the second trace);
/// - every event's origin is tagged with the source (`Origin.trace`), so
///   that reports resolve its stack and line in that source's tables.
public struct MergingConsumer: TraceConsumer {
  /// The validator every source feeds.
  public var validator: LockValidator
  /// The source's index, stored in every origin.
  public let trace: Int32
  /// The source's name, for messages about classes.
  public let source: String
  /// The prefix of thread tokens, or "" to keep them as they are.
  public let threadPrefix: String
  /// Which source first declared each class key (for messages).
  public var classSources: [String: String]
  /// What the caller should say: a class declared here under another
  /// display name than the earlier source's (reports keep the first).
  public var warnings: [String] = []

  /// A consumer of the source numbered `trace` (0-based), called `source`,
  /// feeding `validator`; `classSources` carries over from earlier sources.
  public init(
    validator: LockValidator, trace: Int32, source: String, threadPrefix: String,
    classSources: [String: String]
  ) {
    self.validator = validator
    self.trace = trace
    self.source = source
    self.threadPrefix = threadPrefix
    self.classSources = classSources
  }

  /// Registers `key`, or finds it registered by an earlier source.
  /// - Throws: when the earlier source gave it another kind or other wait
  ///   types, naming both.
  public mutating func declareClass(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes
  ) throws(EventError) -> ClassID {
    try declareClass(key: key, name: name, kind: kind, waits: waits, site: source)
  }

  /// `declareClass`, remembering `site` (the declaration's line or byte)
  /// as where the class came from, for a later source's message; a
  /// display name other than the earlier source's is a warning, unless
  /// the two differ only where a graph file spelled out a control
  /// character (`\u{A}`), which it cannot hold.
  public mutating func declareClass(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes, site: String
  ) throws(EventError) -> ClassID {
    let id = try Self.register(
      key: key, name: name, kind: kind, waits: waits, in: validator.classes, source: site,
      sources: &classSources)
    guard id != .none else { return .none }
    let known = validator.classes[id].displayName
    // An empty name is none, as the registry takes it (`name=""`: the
    // key is shown, and a graph file keeps no name).
    let given = name.flatMap { $0.isEmpty ? nil : $0 } ?? key
    if let earlier = classSources[key], earlier != site, given != known,
      TextTraceWriter.writable(given) != TextTraceWriter.writable(known)
    {
      warnings.append(
        "\(site): class \"\(QuotedText.shown(key))\" is named \"\(QuotedText.shown(given))\" "
          + "here but \"\(QuotedText.shown(known))\" in \(earlier): reports name it as there")
    }
    return id
  }

  /// Registers `key` in `classes` for `source`, or finds it registered by an
  /// earlier source (recorded in `sources`).
  /// - Returns: its id; `.none` when the registry is full, as
  ///   `LockValidator.declareClass` returns for a class past lockdep's
  ///   MAX_LOCKDEP_KEYS (its acquisitions are then a `limit-exceeded`
  ///   finding, and validation goes on).
  /// - Throws: when the earlier registration has another kind or other
  ///   wait types.
  public static func register(
    key: String, name: String?, kind: LockKind, waits: ClassWaitTypes, in classes: ClassRegistry,
    source: String, sources: inout [String: String]
  ) throws(EventError) -> ClassID {
    guard let (id, isNew) = classes.register(key: key, name: name, kind: kind, waits: waits) else {
      return .none
    }
    if isNew {
      sources[key] = source
      return id
    }
    let known = classes[id]
    if known.kind != kind || !sameWaits(known.waits, waits) {
      let earlier = sources[key] ?? "an earlier source"
      throw EventError(
        "class \"\(QuotedText.shown(key))\" is \(describe(kind, waits)) here but \(describe(known.kind, known.waits)) in \(earlier)"
      )
    }
    return id
  }

  /// The same wait types, an unset outer counting as the inner.
  public static func sameWaits(_ a: ClassWaitTypes, _ b: ClassWaitTypes) -> Bool {
    a.inner == b.inner && a.effectiveOuter == b.effectiveOuter && a.lockType == b.lockType
  }

  /// `mutex`, or `custom (inner=spin outer=spin type=normal)` when the wait
  /// types are not the kind's own.
  public static func describe(_ kind: LockKind, _ waits: ClassWaitTypes) -> String {
    let row = kind.row
    let own =
      waits.inner == row.inner && waits.effectiveOuter == (row.outer ?? waits.inner)
      && waits.lockType == (row.lockType ?? .normal)
    if own { return kind.rawValue }
    return
      "\(kind.rawValue) (inner=\(waits.inner) outer=\(waits.effectiveOuter) type=\(waits.lockType))"
  }

  /// Declares the thread under the prefixed token.
  public mutating func declareThread(token: String, name: String?) -> ThreadID {
    validator.declareThread(token: threadPrefix + token, name: name)
  }

  /// True, as for the validator.
  public var takesThreadsAhead: Bool { true }

  /// Names a thread for reports.
  public mutating func nameThread(_ id: ThreadID, _ name: String) {
    validator.nameThread(id, name)
  }

  /// Tags the event's origin with the source, then validates it.
  public mutating func consume(_ event: LockEvent) throws(EventError) {
    var event = event
    event.origin.trace = trace
    try validator.process(event)
  }

  /// Tags the events' origins with the source, then validates them as one
  /// batch (the validator's fast way).
  public mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent? {
    let trace = trace
    // Readers leave every origin in source 0: the first source's events
    // need no tag (nor a copy).
    if trace == 0 {
      return validator.process(events).map { RefusedEvent(index: $0.index, error: $0.error) }
    }
    tagged.removeAll(keepingCapacity: true)
    tagged.append(
      contentsOf: events.lazy.map { e in
        var e = e
        e.origin.trace = trace
        return e
      })
    return tagged.withUnsafeBufferPointer { validator.process($0) }.map {
      RefusedEvent(index: $0.index, error: $0.error)
    }
  }

  /// The batch being validated, tagged (kept to reuse its storage).
  private var tagged: [LockEvent] = []
}
