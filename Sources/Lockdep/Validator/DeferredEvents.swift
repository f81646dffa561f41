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
/// Invariants: storage is allocated once, with the thread's state (or is
/// static thread-local memory, `OrphanEvents`); the queue holds whole
/// handler runs only: a run that does not fit is dropped whole (`dropped`
/// counts them), so replay never sees half a handler.
struct DeferredEvents {
  static let stackDepth = 16

  /// The most events queued at once.
  let capacity: Int
  private let events: UnsafeMutablePointer<LockEvent>
  private let stacks: UnsafeMutablePointer<UInt64>
  private let stackCounts: UnsafeMutablePointer<Int>
  /// Queued events.
  private(set) var count = 0
  /// Where the handler run being queued began, or -1 between runs.
  private var runStart = -1
  /// The run being queued no longer fits: its further events are ignored.
  private var dropping = false
  /// Handler runs dropped because the queue was full.
  private(set) var dropped = 0

  /// Something for `replay` to do: events to validate, or dropped runs to
  /// report (a dropped run may leave the queue empty).
  var needsReplay: Bool { count > 0 || dropped > 0 }

  /// A queue of `capacity` events in storage of its own (`deallocate()`).
  init(capacity: Int = 64) {
    self.capacity = capacity
    events = .allocate(capacity: capacity)
    stacks = .allocate(capacity: capacity * Self.stackDepth)
    stackCounts = .allocate(capacity: capacity)
  }

  /// The bytes one queued event takes.
  static var bytesPerEvent: Int {
    MemoryLayout<LockEvent>.stride + MemoryLayout<UInt64>.stride * stackDepth
      + MemoryLayout<Int>.stride
  }

  /// A queue in `bytes` bytes of caller-owned storage at `base` (aligned
  /// for `LockEvent`), as many events as fit; never deallocated.
  init(in base: UnsafeMutableRawPointer, bytes: Int) {
    capacity = bytes / Self.bytesPerEvent
    events = base.bindMemory(to: LockEvent.self, capacity: capacity)
    let afterEvents = base + capacity * MemoryLayout<LockEvent>.stride
    stacks = afterEvents.bindMemory(to: UInt64.self, capacity: capacity * Self.stackDepth)
    stackCounts = (afterEvents + capacity * Self.stackDepth * MemoryLayout<UInt64>.stride)
      .bindMemory(to: Int.self, capacity: capacity)
  }

  /// Frees storage of its own (not that of `init(in:bytes:)`).
  func deallocate() {
    events.deallocate()
    stacks.deallocate()
    stackCounts.deallocate()
  }

  /// Queues one event of the handler run in progress, with its stack.
  /// `startsRun` marks the first event of a run. Allocates nothing; where
  /// the stack cannot be captured without allocating (`boundsKnown` false:
  /// the thread never captured one), the event's return address stands
  /// for it.
  mutating func append(_ event: LockEvent, startsRun: Bool, boundsKnown: Bool = true) {
    if startsRun {
      runStart = count
      dropping = false
    }
    if dropping { return }
    guard count < capacity else {
      // Drop the whole run: replay must never see half a handler.
      count = max(runStart, 0)
      dropping = true
      dropped += 1
      return
    }
    events[count] = event
    let buffer = UnsafeMutableBufferPointer(
      start: stacks + count * Self.stackDepth, count: Self.stackDepth)
    var frames =
      boundsKnown
      ? StackCapture.capture(into: buffer, skip: 2)
      : StackCapture.captureWithoutAllocating(into: buffer, skip: 2)
    if frames == 0 && event.origin.ip != 0 {
      buffer[0] = event.origin.ip
      frames = 1
    }
    stackCounts[count] = frames
    count += 1
  }

  /// Marks the end of the handler run in progress.
  mutating func endRun() {
    runStart = -1
    dropping = false
  }

  /// Event `i` and its stack.
  func entry(_ i: Int) -> (event: LockEvent, stack: UnsafeBufferPointer<UInt64>) {
    (events[i], UnsafeBufferPointer(start: stacks + i * Self.stackDepth, count: stackCounts[i]))
  }

  /// Empties the queue (after replay) and forgets the drop count.
  mutating func clear() {
    count = 0
    dropped = 0
  }
}
