import CLockdepSupport
import LockGraph

/// The events of signal handlers installed through Lockdep that run on a
/// thread the validator has no state for yet (it never took a validated
/// lock): creating that state allocates, which a handler must not do, so
/// the events are queued in static thread-local memory
/// (`rlc_orphan_storage()`, zero-filled when the thread starts) and
/// validated when the thread's state is created outside a handler: at its
/// next lock event, when findings are read or a validation scope ends
/// (`Live.replayPending()`), or at the latest when the thread exits (a
/// pthread key armed by the first queued event, `threadExits()`) or ends
/// the process (`atexit`, where no key destructor runs). Another thread
/// still running when the process ends runs no destructor: its queued
/// events are not validated.
///
/// Invariants: only the owning thread (and its handlers) touch its queue;
/// the header is set up on first use, marked by the last byte of the
/// header area; events carry no thread id until they are replayed.
enum OrphanEvents {
  private struct Header {
    var queue: DeferredEvents
    /// The handler run in progress has queued events.
    var inRun: Bool
    /// Its `hardirq-enter`s queued, less its `hardirq-exit`s: the handlers
    /// of the run whose enter is in the queue.
    var entersQueued: Int
    /// Whether the outermost handler running now is threaded: for a run
    /// that started before the validator existed (a lock in the handler
    /// created it), whose `hardirq-enter` went by unqueued.
    var runThreaded: Bool
  }

  /// Bytes before the queue's storage: the header, and its set-up mark in
  /// the last byte.
  private static let headerBytes = 128

  @inline(__always)
  private static var area: UnsafeMutableRawPointer { rlc_orphan_storage() }

  @inline(__always)
  private static var isSetUp: Bool {
    area.load(fromByteOffset: headerBytes - 1, as: UInt8.self) == 1
  }

  /// The calling thread's header, set up on first use. Allocates nothing.
  private static var header: UnsafeMutablePointer<Header> {
    let pointer = area.bindMemory(to: Header.self, capacity: 1)
    if !isSetUp {
      assert(MemoryLayout<Header>.size < headerBytes)
      let storage = area + headerBytes
      pointer.initialize(
        to: Header(
          queue: DeferredEvents(
            in: storage, bytes: Int(rlc_orphan_storage_size()) - headerBytes),
          inRun: false, entersQueued: 0, runThreaded: false))
      area.storeBytes(of: 1, toByteOffset: headerBytes - 1, as: UInt8.self)
    }
    return pointer
  }

  /// An outermost handler run starts on a thread without state (in the
  /// handler, before its `hardirq-enter`): whether it is threaded.
  static func noteRunStart(threaded: Bool) {
    header.pointee.runThreaded = threaded
  }

  /// Queues one event of a handler run on this thread (in the handler).
  /// The handlers running now whose `hardirq-enter` went by before the
  /// validator existed (a lock in a handler started it) get it made up
  /// first, outermost first, with the outermost handler's `threaded` (a
  /// nested handler counts as threaded in one that is, as in lockdep): the
  /// handlers' locks are validated as taken in them, and each exit has an
  /// enter to match. The run starts with its first queued event.
  static func queue(_ event: LockEvent) {
    let h = header
    let depth = Int(rlc_lockdep_signal_depth())
    // A handler's enter is queued at its own depth: those outside it are
    // the ones that must be in the queue already.
    let handlers = event.verb == .hardirqEnter ? depth - 1 : depth
    while h.pointee.entersQueued < handlers {
      append(
        LockEvent(.hardirqEnter, thread: Live.orphanThread, threaded: h.pointee.runThreaded), h)
    }
    append(event, h)
    rlc_orphan_exit_hook_arm()
  }

  /// Appends `event` to the queue of header `h`, the first of a run
  /// starting it.
  private static func append(_ event: LockEvent, _ h: UnsafeMutablePointer<Header>) {
    h.pointee.queue.append(event, startsRun: !h.pointee.inRun)
    h.pointee.inRun = true
    if event.verb == .hardirqEnter {
      h.pointee.entersQueued += 1
    } else if event.verb == .hardirqExit {
      h.pointee.entersQueued -= 1
    }
  }

  /// Installs the thread-exit hook (when the validator is created, before
  /// any handler can queue).
  static func installExitHook() {
    rlc_orphan_exit_hook_install { OrphanEvents.threadExits() }
  }

  /// A thread whose handlers queued events exits: they are validated now,
  /// as the thread's (its state, made here, then ends like any thread's).
  static func threadExits() {
    guard isPending, rlc_lockdep_thread() == nil, !Live.off.load(ordering: .relaxed) else {
      return
    }
    _ = LiveThread.create()
  }

  /// The outermost handler returned: its run is complete.
  static func endRun() {
    guard isSetUp else { return }
    header.pointee.queue.endRun()
    header.pointee.inRun = false
    header.pointee.entersQueued = 0
  }

  /// Whether events wait for this thread's state, or a run dropped whole
  /// (the queue full) waits to be reported: a run too long leaves the
  /// queue empty, and was once lost without a word.
  static var isPending: Bool { isSetUp && header.pointee.queue.needsReplay }

  /// Runs `body` on this thread's queue (outside handlers).
  static func withQueue(_ body: (inout DeferredEvents) -> Void) {
    body(&header.pointee.queue)
  }
}
