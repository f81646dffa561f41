import LockGraph
import WaitContext

/// Drives a `LockValidator` with named classes and threads, for tests.
struct Scenario {
  var validator: LockValidator
  private var classIDs: [String: ClassID] = [:]
  private var threadIDs: [String: ThreadID] = [:]

  init(_ configuration: CheckConfiguration = CheckConfiguration()) {
    validator = LockValidator(configuration: configuration)
  }

  mutating func lock(
    _ key: String, _ kind: LockKind, inner: WaitType? = nil, outer: WaitType? = nil,
    type: LockType? = nil
  ) {
    let waits = try! ClassWaitTypes(kind: kind, inner: inner, outer: outer, lockType: type)
    classIDs[key] = validator.declareClass(key: key, name: "&\(key)", kind: kind, waits: waits)
  }

  mutating func thread(_ t: String) -> ThreadID {
    if let id = threadIDs[t] { return id }
    let id = validator.declareThread(token: t)
    threadIDs[t] = id
    return id
  }

  func id(_ key: String) -> ClassID { classIDs[key]! }

  mutating func acquire(
    _ key: String, on t: String = "1", read: ReadMode = .exclusive, try isTry: Bool = false,
    sub: UInt8 = 0, nest: String? = nil, inst: UInt64 = 0, stack: Int32 = -1
  ) {
    let event = LockEvent(
      .acquire, thread: thread(t), lockClass: id(key), read: read, isTrylock: isTry,
      subclass: sub, nest: nest.map(id) ?? .none, address: inst,
      origin: Origin(stack: StackID(stack)))
    try! validator.process(event)
  }

  mutating func release(_ key: String, on t: String = "1", inst: UInt64 = 0) {
    try! validator.process(
      LockEvent(.release, thread: thread(t), lockClass: id(key), address: inst))
  }

  mutating func mightLock(_ key: String, on t: String = "1") {
    try! validator.process(LockEvent(.mightLock, thread: thread(t), lockClass: id(key)))
  }

  /// A context or other argument-free verb.
  mutating func event(_ verb: LockEvent.Verb, on t: String = "1", threaded: Bool = false)
    throws(EventError)
  {
    try validator.process(LockEvent(verb, thread: thread(t), threaded: threaded))
  }

  mutating func free(_ address: UInt64, _ length: UInt64, on t: String = "1") {
    try! validator.process(LockEvent(.free, thread: thread(t), address: address, length: length))
  }

  mutating func initLock(_ key: String, inst: UInt64, on t: String = "1") {
    try! validator.process(
      LockEvent(.initLock, thread: thread(t), lockClass: id(key), address: inst))
  }

  /// Takes and drops `key` inside a hard interrupt handler.
  mutating func useInHardirq(_ key: String, on t: String = "1") throws(EventError) {
    try event(.hardirqEnter, on: t)
    acquire(key, on: t)
    release(key, on: t)
    try event(.hardirqExit, on: t)
  }

  var findings: [Finding] { validator.findings.findings }
  var kinds: [FindingKind] { findings.map(\.kind) }
}

extension Scenario {
  /// The findings of `a` held around `b` taken between `enter` and `exit`
  /// (a context, or bottom halves off) on thread 1, then `b` and `a` in
  /// the other order on thread 2: whether the events between make `a ->
  /// b` a dependency that the second thread's order closes into a cycle.
  static func kindsOfOrderAround(
    _ configuration: CheckConfiguration, enter: LockEvent.Verb, exit: LockEvent.Verb
  ) throws -> [FindingKind] {
    var s = Scenario(configuration)
    s.lock("a", .spinlock)
    s.lock("b", .spinlock)
    s.acquire("a")
    try s.event(enter)
    s.acquire("b")
    s.release("b")
    try s.event(exit)
    s.release("a")
    s.acquire("b", on: "2")
    s.acquire("a", on: "2")
    return s.kinds
  }
}
