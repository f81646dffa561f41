import LockGraph
import Trace
import WaitContext

/// A `LockValidator` with counters around it, for `rawlockcheck stats`:
/// every declaration and event goes on to the validator unchanged, and on
/// the way it counts events per verb and per thread, acquisitions per
/// class (a subclass apart from its base), and the deepest held-lock stack
/// any thread had. The engine itself is untouched.
struct CountingValidator: TraceConsumer {
  /// The validator every declaration and event is forwarded to.
  var validator: LockValidator
  /// Events per verb, indexed by `LockEvent.Verb.rawValue`.
  private(set) var eventsPerVerb = [Int64](repeating: 0, count: LockEvent.Verb.allCases.count)
  /// Events per thread, indexed by `ThreadID.index`.
  private(set) var eventsPerThread: [Int64] = []
  /// Acquisitions (trylocks and `might-lock` included) per declared class
  /// and subclass: `acquisitions[c.index * 8 + subclass]`.
  private(set) var acquisitions: [Int64] = []
  /// The most locks one thread held at once.
  var maxHeldDepth: Int { validator.deepestHeldStack?.depth ?? 0 }
  /// The thread that first reached `maxHeldDepth`.
  var maxHeldDepthThread: ThreadID? { validator.deepestHeldStack?.thread }

  /// Counts around `validator`.
  init(_ validator: LockValidator) { self.validator = validator }

  /// Declares the class in the validator.
  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  {
    validator.declareClass(key: key, name: name, kind: kind, waits: waits)
  }

  /// Declares the thread in the validator, with a counter of its own.
  mutating func declareThread(token: String, name: String?) -> ThreadID {
    let id = validator.declareThread(token: token, name: name)
    if eventsPerThread.count <= id.index {
      eventsPerThread.append(
        contentsOf: repeatElement(0, count: id.index + 1 - eventsPerThread.count))
    }
    return id
  }

  /// Names the thread in the validator.
  mutating func nameThread(_ id: ThreadID, _ name: String) { validator.nameThread(id, name) }

  /// True, as for the validator: its counts are per event.
  var takesThreadsAhead: Bool { true }

  /// Validates the event, then counts it (an event the validator refuses
  /// is not counted, as `LockValidator.eventCount` does not count it).
  mutating func consume(_ event: LockEvent) throws(EventError) {
    try validator.process(event)
    count(event)
  }

  /// Validates the events as one batch (the validator's fast way), then
  /// counts those it accepted: the ones before a refused one.
  mutating func consume(_ events: UnsafeBufferPointer<LockEvent>) -> RefusedEvent? {
    let refused = validator.process(events).map { RefusedEvent(index: $0.index, error: $0.error) }
    for event in events[..<(refused?.index ?? events.count)] { count(event) }
    return refused
  }

  private mutating func count(_ event: LockEvent) {
    eventsPerVerb[Int(event.verb.rawValue)] += 1
    eventsPerThread[event.thread.index] += 1
    // A class past the class table (`.none`) has no counter: its
    // acquisitions are a limit-exceeded finding, not validated.
    // `might_lock()` is `lock_acquire()` and `lock_release()`: the engine
    // counts it among the acquisitions, as here.
    guard event.verb == .acquire || event.verb == .mightLock, event.lockClass != .none
    else { return }
    let slot = event.lockClass.index * 8 + Int(event.subclass & 7)
    if acquisitions.count <= slot {
      acquisitions.append(contentsOf: repeatElement(0, count: slot + 1 - acquisitions.count))
    }
    acquisitions[slot] += 1
  }
}

extension LockEvent.Verb {
  /// The event's word in a text trace (`TraceVocabulary.events`).
  var traceWord: String { TraceVocabulary.events[Int(rawValue)].spelling }
}
