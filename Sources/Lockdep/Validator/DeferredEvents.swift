import LockGraph
import Symbolizer

/// Events a signal handler caused, queued for validation after it returns.
///
/// The validator allocates on its slow path (a new chain, a finding, a
/// stack), and a signal may have interrupted `malloc` itself, so nothing in
/// a handler may allocate: its events are copied here (with the stack they
/// were taken from, by a frame-pointer walk, which allocates nothing), and
/// validated in order before the thread's next lock event. Until then the
/// thread's task code does no lock event (each would replay first), so the
/// state the handler's events are validated against is the one they saw.
///
/// A handler usually does the same thing each time it runs, and a thread
/// may take many signals between two of its lock events (one that sleeps,
/// or computes): a run whose events repeat those of the run before it,
/// one for one, takes no room. It is counted on that run (`repeats`), and
/// replayed as many times as it ran, with the first run's stacks; its
/// events are compared as they come (no stack is captured for an event
/// that repeats), and once one differs the run is stored like any.
///
/// Invariants: storage is allocated once, with the thread's state (or is
/// static thread-local memory, `OrphanEvents`); the queue holds whole
/// handler runs only: a run that does not fit is dropped whole (`dropped`
/// counts them), so replay never sees half a handler. `runLengths[i]` and
/// `repeats[i]` are those of the completed run that starts at event `i`,
/// and 0 at any other stored event.
struct DeferredEvents {
  static let stackDepth = 16

  /// The most events queued at once.
  let capacity: Int
  private let events: UnsafeMutablePointer<LockEvent>
  private let stacks: UnsafeMutablePointer<UInt64>
  private let stackCounts: UnsafeMutablePointer<Int>
  /// Per event: the length of the completed run it starts, or 0.
  private let runLengths: UnsafeMutablePointer<Int>
  /// Per event: how many runs after the one it starts repeated it.
  private let repeats: UnsafeMutablePointer<Int>
  /// Queued events.
  private(set) var count = 0
  /// Where the handler run being queued began, or -1 between runs.
  private var runStart = -1
  /// The run being queued no longer fits: its further events are ignored.
  private var dropping = false
  /// Handler runs dropped because the queue was full.
  private(set) var dropped = 0
  /// The newest completed run: where it starts (-1: none) and its length.
  private var previousStart = -1
  private var previousLength = 0
  /// How many events of the run being queued repeated the newest
  /// completed run's so far, not stored; -1 once one did not (or with
  /// no run to repeat), and the run is stored.
  private var matched = -1

  /// Something for `replay` to do: events to validate, or dropped runs to
  /// report (a dropped run may leave the queue empty).
  var needsReplay: Bool { count > 0 || dropped > 0 }

  /// A queue of `capacity` events in storage of its own (`deallocate()`).
  init(capacity: Int = 64) {
    self.capacity = capacity
    events = .allocate(capacity: capacity)
    stacks = .allocate(capacity: capacity * Self.stackDepth)
    stackCounts = .allocate(capacity: capacity * 3)
    runLengths = stackCounts + capacity
    repeats = stackCounts + 2 * capacity
  }

  /// The bytes one queued event takes.
  static var bytesPerEvent: Int {
    MemoryLayout<LockEvent>.stride + MemoryLayout<UInt64>.stride * stackDepth
      + 3 * MemoryLayout<Int>.stride
  }

  /// A queue in `bytes` bytes of caller-owned storage at `base` (aligned
  /// for `LockEvent`), as many events as fit; never deallocated.
  init(in base: UnsafeMutableRawPointer, bytes: Int) {
    capacity = bytes / Self.bytesPerEvent
    events = base.bindMemory(to: LockEvent.self, capacity: capacity)
    let afterEvents = base + capacity * MemoryLayout<LockEvent>.stride
    stacks = afterEvents.bindMemory(to: UInt64.self, capacity: capacity * Self.stackDepth)
    stackCounts = (afterEvents + capacity * Self.stackDepth * MemoryLayout<UInt64>.stride)
      .bindMemory(to: Int.self, capacity: capacity * 3)
    runLengths = stackCounts + capacity
    repeats = stackCounts + 2 * capacity
  }

  /// Frees storage of its own (not that of `init(in:bytes:)`).
  func deallocate() {
    events.deallocate()
    stacks.deallocate()
    stackCounts.deallocate()
  }

  /// Queues one event of the handler run in progress, with its stack
  /// (from the event's call site, when it has one). `startsRun` marks the
  /// first event of a run. Allocates nothing, on a thread that never
  /// captured a stack too (`StackCapture.captureWithoutAllocating`); where
  /// no stack can be captured, the event's return address stands for it.
  mutating func append(_ event: LockEvent, startsRun: Bool) {
    if startsRun {
      runStart = count
      dropping = false
      // Only the newest thing stored can be repeated in place: events
      // stored outside a run (a handler nested where no run is open) may
      // follow it, and a repeat counted on it would replay before them.
      matched = previousStart >= 0 && previousStart + previousLength == count ? 0 : -1
    } else if runStart < 0 {
      // An event outside any run (a handler that interrupted another
      // between its end of run and its return): it opens one, never
      // folded, so that what does not fit drops it and not the runs
      // queued before.
      runStart = count
      dropping = false
      matched = -1
    }
    if dropping { return }
    if matched >= 0 {
      if matched < previousLength && Self.repeats(events[previousStart + matched], event) {
        matched += 1
        return
      }
      // Not a repeat: the run is stored, from the events it repeated.
      guard storeMatchedPrefix() else { return }
    }
    guard count < capacity else {
      dropRun()
      return
    }
    events[count] = event
    let buffer = UnsafeMutableBufferPointer(
      start: stacks + count * Self.stackDepth, count: Self.stackDepth)
    // From the event's call site, as `LiveThread.captureStack()` cuts a
    // stack: the validator's frames above it differ with the path that
    // queued (a thread's queue, an orphan's), and they would take the
    // room of the caller's. Never `capture`, whose fallback for a frame
    // outside the thread's bounds (an alternate signal stack) is
    // `backtrace()`, which allocates.
    var frames = StackCapture.captureWithoutAllocating(
      into: buffer, skip: 2, from: event.origin.ip)
    if frames == 0 && event.origin.ip != 0 {
      buffer[0] = event.origin.ip
      frames = 1
    }
    frames = SignalHandlers.framesAboveSignalFrame(buffer, count: frames)
    stackCounts[count] = frames
    runLengths[count] = 0
    repeats[count] = 0
    count += 1
  }

  /// Marks the end of the handler run in progress.
  mutating func endRun() {
    if matched >= 0, matched == previousLength {
      // A repeat of the newest run, whole.
      repeats[previousStart] += 1
    } else if matched < 0 || storeMatchedPrefix() {
      if runStart >= 0 && !dropping && count > runStart {
        runLengths[runStart] = count - runStart
        previousStart = runStart
        previousLength = count - runStart
      }
    }
    matched = -1
    runStart = -1
    dropping = false
  }

  /// Ends the handler run in progress before the handler returns (it
  /// never will: `LiveThread.reportHandlerDeadlock(lockName:)`), stored as a run
  /// of its own, not counted as a repeat of the newest run (the events it
  /// repeated so far are stored), so that it replays now.
  mutating func closeRunInProgress() {
    // Stored, or dropped whole when it does not fit (`dropped` counts it).
    if matched >= 0 { _ = storeMatchedPrefix() }
    endRun()
  }

  /// Stores the events of the run in progress that repeated the newest
  /// run's, with their stacks (copied): false, the run dropped, when they
  /// do not fit.
  private mutating func storeMatchedPrefix() -> Bool {
    let n = matched
    matched = -1
    guard count + n <= capacity else {
      dropRun()
      return false
    }
    for k in 0..<n {
      let from = previousStart + k
      events[count] = events[from]
      (stacks + count * Self.stackDepth).update(
        from: stacks + from * Self.stackDepth, count: Self.stackDepth)
      stackCounts[count] = stackCounts[from]
      runLengths[count] = 0
      repeats[count] = 0
      count += 1
    }
    return true
  }

  /// Drops the run in progress whole: replay must never see half a
  /// handler.
  private mutating func dropRun() {
    count = max(runStart, 0)
    dropping = true
    dropped += 1
  }

  /// Whether `b` does what `a` did: the same event of the same handler
  /// code (its return address), wherever the handler interrupted.
  static func repeats(_ a: LockEvent, _ b: LockEvent) -> Bool {
    a.verb == b.verb && a.lockClass == b.lockClass && a.read == b.read
      && a.isTrylock == b.isTrylock && a.threaded == b.threaded && a.subclass == b.subclass
      && a.nest == b.nest && a.address == b.address && a.length == b.length
      && a.origin == b.origin
  }

  /// Event `i` and its stack.
  func entry(_ i: Int) -> (event: LockEvent, stack: UnsafeBufferPointer<UInt64>) {
    (events[i], UnsafeBufferPointer(start: stacks + i * Self.stackDepth, count: stackCounts[i]))
  }

  /// Calls `body` with each event to validate and its stack, in order: a
  /// run that later runs repeated, as many times as it ran.
  func forEachEvent(_ body: (LockEvent, UnsafeBufferPointer<UInt64>) -> Void) {
    var i = 0
    while i < count {
      let length = runLengths[i]
      guard length > 0 else {
        let (event, stack) = entry(i)
        body(event, stack)
        i += 1
        continue
      }
      for _ in 0...repeats[i] {
        for k in i..<(i + length) {
          let (event, stack) = entry(k)
          body(event, stack)
        }
      }
      i += length
    }
  }

  /// Empties the queue (after replay) and forgets the drop count.
  /// No handler runs while the queue is replayed: a run left open (events
  /// queued outside a run, which only the next `endRun` or run start
  /// closes) or being dropped ends here too, or the events queued after
  /// the replay would be stored from its stale start, or silently dropped
  /// with it.
  mutating func clear() {
    count = 0
    dropped = 0
    runStart = -1
    dropping = false
    previousStart = -1
    previousLength = 0
    matched = -1
  }
}
