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
/// pthread key armed by the first queued event, `threadExits()`).
///
/// Invariants: only the owning thread (and its handlers) touch its queue;
/// the header is set up on first use, marked by the last byte of the
/// header area; events carry no thread id until they are replayed.
enum OrphanEvents {
  private struct Header {
    var queue: DeferredEvents
    /// The handler run in progress had its `hardirq-enter` queued.
    var inRun: Bool
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
          inRun: false, runThreaded: false))
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
  /// The first event of a run whose `hardirq-enter` went by before the
  /// validator existed is queued after that enter, made up now: the
  /// handler's locks are validated as taken in it, and its exit has an
  /// enter to match.
  static func queue(_ event: LockEvent) {
    let h = header
    if event.verb != .hardirqEnter && !h.pointee.inRun && rlc_lockdep_signal_depth() > 0 {
      queue(
        LockEvent(.hardirqEnter, thread: Live.orphanThread, threaded: h.pointee.runThreaded))
    }
    h.pointee.queue.append(
      event,
      startsRun: event.verb == .hardirqEnter && rlc_lockdep_signal_depth() == 1
        && !h.pointee.inRun,
      boundsKnown: false)
    if event.verb == .hardirqEnter { h.pointee.inRun = true }
    rlc_orphan_exit_hook_arm()
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
  }

  /// Whether events wait for this thread's state.
  static var isPending: Bool { isSetUp && header.pointee.queue.count > 0 }

  /// Runs `body` on this thread's queue (outside handlers).
  static func withQueue(_ body: (inout DeferredEvents) -> Void) {
    body(&header.pointee.queue)
  }
}
