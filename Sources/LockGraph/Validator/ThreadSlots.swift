/// Which `ThreadValidator` of a `LockValidator` validates which thread, and
/// the bookkeeping that keeps that number bounded by the threads alive at
/// once rather than by every thread a trace ever had.
///
/// A program that starts a thread per task (a server, a test suite) records
/// millions of threads that each take a few locks and exit. A thread's
/// validator state is most of what a thread costs (the held-lock stack,
/// the chain memo, the contexts), so a thread that exits gives its slot
/// back (`retire`), and the next thread declared, or the next event of an
/// exited thread, takes it again (`slot(for:)`), as Linux reuses a task's
/// memory. What the exited thread counted (`ThreadValidator.Statistics`, its
/// deepest stack) is kept here.
///
/// Invariants:
/// - `slots[id.index]` is the slot of thread `id`, or `vacant` once it
///   exited (until its next event);
/// - a slot is either some thread's (exactly one: `slots` maps to it and
///   its validator's `thread` is that thread) or in `free`, never both;
/// - a slot in `free` holds a validator with an empty held stack, zero
///   counters and no deepest stack;
/// - `unindexed` lists each slot whose validator has `awaitsIndex` set,
///   once; every slot that acquired a lock since `heldAddresses` last
///   indexed it is listed (a slot given back stays listed, with its flag,
///   until the next `free` or `init` indexes it).
struct ThreadSlots {
  /// The slot of each declared thread, by `ThreadID.index`.
  let slots: SlotMap
  /// Slots given back by exited threads, taken again newest first.
  var free: [Int32] = []
  /// The slots that acquired a lock since `heldAddresses` last indexed
  /// them, in no order (`ThreadValidator.awaitsIndex`): a slot is listed by
  /// its first acquisition after a `free` or `init`, which indexes it.
  var unindexed: [Int] = []
  /// Which slots may hold locks in which pages: what a `free` or `init`
  /// checks, rather than every thread holding locks.
  var heldAddresses = HeldAddressIndex()
  /// The counters of the threads that exited, added up.
  var retired = ThreadValidator.Statistics()
  /// The deepest held stack of the threads that exited (as
  /// `ThreadValidator.deepest`), and which thread reached it first.
  var retiredDeepest: (count: Int, event: Int64, thread: ThreadID)? = nil

  /// The interrupt-state changes of parked threads (`parkIdle(threads:)`)
  /// that had any, by thread index, given back with the thread's next
  /// slot: an inconsistent lock state found after it prints them
  /// (`IrqTrace`), as for a thread never parked.
  var parkedIrqTraces: [Int32: IrqTrace] = [:]
  /// The fewest slots from which a thread that needs a slot, with none
  /// free, first parks the idle threads (`parkIdle(threads:)`): below it,
  /// slots only grow. Tests lower it (or raise it past any trace).
  var parkingFloor = 1024
  /// The number of slots at which the next `parkIdle(threads:)` is due.
  var nextParking = 1024

  /// A slot's value in `slots` for a thread that exited.
  static let vacant: Int32 = -1

  /// No thread yet, or (`LockValidator` moving its pool out for a batch)
  /// a stand-in sharing `slots`, which allocates nothing.
  init(slots: SlotMap = SlotMap()) { self.slots = slots }

  /// The slot of thread `id`: its own, or one given back (its validator
  /// restarted for `id`), or nil when none is free (the caller
  /// appends a validator, `adopt(_:slot:)`).
  mutating func slot(
    for id: ThreadID, threads: UnsafeMutableBufferPointer<ThreadValidator>
  ) -> Int? {
    if id.index < slots.count, case let s = slots.base[id.index], s != Self.vacant {
      return Int(s)
    }
    guard let reused = free.popLast() else { return nil }
    let s = Int(reused)
    // Listed or not, the flag stays with the slot (`unindexed`).
    threads[s].restart(as: id)
    unpark(id, into: &threads[s])
    adopt(id, slot: s)
    return s
  }

  /// Gives thread `id`'s interrupt-state changes, kept when it was parked
  /// (`parkedIrqTraces`), to `validator`, the thread's new slot's, which
  /// was made or restarted for it.
  mutating func unpark(_ id: ThreadID, into validator: inout ThreadValidator) {
    if !parkedIrqTraces.isEmpty, let trace = parkedIrqTraces.removeValue(forKey: id.raw) {
      validator.state.irqTrace = trace
    }
  }

  /// Gives back the slot of every thread that is idle
  /// (`ThreadValidator.isIdle`): alive, but holding nothing, in no context
  /// and with nothing disabled. Such a thread is what a new one is, but for
  /// its counters and deepest stack (kept here, as an exited thread's) and
  /// its interrupt-state changes (`parkedIrqTraces`), so its next event
  /// takes a slot as an exited thread's does (`slot(for:threads:)`) and is
  /// validated as it would have been in the slot it left.
  ///
  /// A trace of millions of threads alive at once (a pool that never
  /// exits, a recorder that writes no `exit`) then costs a slot per thread
  /// busy at once, not per thread alive. Called when the slots are full
  /// (`nextParking`); the next call is due when the busy threads have
  /// taken more than half the slots (the slots then double first), else
  /// when the slots are full again, so each parking's walk of the slots is
  /// paid for by as many new threads' slots.
  mutating func parkIdle(threads: UnsafeMutableBufferPointer<ThreadValidator>) {
    for s in threads.indices
    where slots.base[threads[s].thread.index] == Int32(s) && threads[s].isIdle {
      let trace = threads[s].state.irqTrace
      // Not `events != 0`: the count wraps.
      if trace != IrqTrace() { parkedIrqTraces[threads[s].thread.raw] = trace }
      retire(s, threads: threads)
    }
    let busy = threads.count - free.count
    nextParking = max(parkingFloor, busy * 2 > threads.count ? threads.count * 2 : threads.count)
  }

  /// Records that thread `id` is declared, with no slot until its first
  /// event (`slot(for:threads:)`, else `adopt(_:slot:)`).
  mutating func declare(_ id: ThreadID) {
    slots.extend(to: id.index + 1, with: Self.vacant)
  }

  /// Records that thread `id` is validated in slot `slot`.
  mutating func adopt(_ id: ThreadID, slot: Int) {
    slots.extend(to: id.index + 1, with: Self.vacant)
    slots.base[id.index] = Int32(slot)
  }

  /// Gives back slot `s`, whose thread just exited (its held stack is
  /// empty): its counters and deepest stack are kept here.
  mutating func retire(_ s: Int, threads: UnsafeMutableBufferPointer<ThreadValidator>) {
    // Read in place: a copy of the validator costs a retain and a release
    // of each of its buffers, once a thread.
    let v = threads.baseAddress.unsafelyUnwrapped + s
    retired.add(v.pointee.statistics)
    if v.pointee.deepest.event >= 0 {
      let deepest = v.pointee.deepest
      retiredDeepest = Self.deeper(
        retiredDeepest, (count: deepest.count, event: deepest.event, thread: v.pointee.thread))
    }
    v.pointee.counters = ThreadValidator.Statistics()
    v.pointee.deepest = (0, -1)
    slots.base[v.pointee.thread.index] = Self.vacant
    free.append(Int32(s))
  }

  /// The deeper of two held stacks; of equal ones, the first reached.
  static func deeper(
    _ a: (count: Int, event: Int64, thread: ThreadID)?,
    _ b: (count: Int, event: Int64, thread: ThreadID)
  ) -> (count: Int, event: Int64, thread: ThreadID) {
    guard let a else { return b }
    if b.count > a.count || (b.count == a.count && b.event < a.event) { return b }
    return a
  }
}

/// The storage of `ThreadSlots.slots`: a buffer of slot numbers that the
/// batch loop reads through its address (`base`), with no array to reach
/// through the pool on every event. It grows only when a thread is
/// declared, never during a batch.
final class SlotMap {
  /// The slot numbers, `count` of them.
  private(set) var base: UnsafeMutablePointer<Int32>
  /// The number of threads declared.
  private(set) var count = 0
  private var capacity = 16

  init() { base = .allocate(capacity: capacity) }

  deinit { base.deallocate() }

  /// Makes room for `n` entries, the new ones set to `value`.
  func extend(to n: Int, with value: Int32) {
    guard n > count else { return }
    if n > capacity {
      var larger = capacity
      while larger < n { larger *= 2 }
      let buffer = UnsafeMutablePointer<Int32>.allocate(capacity: larger)
      buffer.moveInitialize(from: base, count: count)
      base.deallocate()
      base = buffer
      capacity = larger
    }
    (base + count).initialize(repeating: value, count: n - count)
    count = n
  }
}
