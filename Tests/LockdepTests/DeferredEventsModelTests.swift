import Basics
import LockGraph
import Testing

@testable import Lockdep

/// `DeferredEvents` against a model without folding: random handler runs
/// (many repeating the one before, some a prefix or an extension of it),
/// events queued outside a run (a handler that interrupted another after
/// its end of run: they open a run of their own, ended by the next
/// `endRun`), replays (`clear()`, which a thread does only with no handler
/// running) at any point between runs, in queues of a few events. What
/// `forEachEvent` replays must be the runs queued since the last replay,
/// in order, each whole or not at all, and `dropped` the number left
/// out; with room for everything, every event, in order.
@Suite struct DeferredEventsModelTests {
  /// One event of a small alphabet (so that runs repeat).
  static func event(_ n: Int) -> LockEvent {
    LockEvent(
      n == 0 ? .hardirqEnter : .acquire, thread: Live.orphanThread,
      lockClass: n == 0 ? .none : ClassID(Int32(n)), origin: Origin(ip: UInt64(0x1000 + n)))
  }

  static func name(_ e: LockEvent) -> Int {
    e.verb == .hardirqEnter ? 0 : Int(e.lockClass.raw)
  }

  /// Checks that `replayed` is `units` in order, each whole or left out,
  /// `dropped` of them left out (any way of choosing them).
  static func check(
    _ replayed: [Int], units: [[Int]], dropped: Int, roomForAll: Bool, _ context: String
  ) {
    if roomForAll {
      #expect(replayed == units.flatMap { $0 }, "\(context)")
      #expect(dropped == 0, "\(context)")
      return
    }
    // Where the replay can be after each unit, and how many units it kept.
    struct Place: Hashable {
      var at: Int
      var kept: Int
    }
    var places: Set<Place> = [Place(at: 0, kept: 0)]
    for unit in units {
      var next = places
      for p in places
      where p.at + unit.count <= replayed.count
        && Array(replayed[p.at..<(p.at + unit.count)]) == unit
      {
        next.insert(Place(at: p.at + unit.count, kept: p.kept + 1))
      }
      places = next
    }
    #expect(
      places.contains(Place(at: replayed.count, kept: units.count - dropped)),
      "not the runs, whole, in order, \(dropped) left out: \(replayed) \(context)")
  }

  @Test(arguments: [4, 6, 9, 16, 1000])
  func replayIsTheQueuedRunsWholeInOrder(capacity: Int) {
    for seed in 1...400 {
      var rng = SplitMix(seed: UInt64(seed) &* 6_364_136_223)
      func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
      var queue = DeferredEvents(capacity: capacity)
      defer { queue.deallocate() }
      var units: [[Int]] = []
      var open = false  // a unit of events outside a run is open
      var previous: [Int] = [0, 1]
      var log: [String] = []
      func replay() {
        var replayed: [Int] = []
        queue.forEachEvent { e, _ in replayed.append(Self.name(e)) }
        let total = units.reduce(0) { $0 + $1.count }
        Self.check(
          replayed, units: units, dropped: queue.dropped, roomForAll: total <= capacity,
          "seed \(seed) capacity \(capacity): \(log.joined(separator: " "))")
        queue.clear()
        units = []
        open = false
        log = []
      }
      for _ in 0..<60 {
        switch below(10) {
        case 0..<6:
          // A handler run: the one before again, or a prefix, an extension
          // or another.
          var run: [Int]
          switch below(5) {
          case 0, 1: run = previous
          case 2: run = Array(previous.prefix(1 + below(previous.count)))
          case 3: run = previous + [1 + below(3)]
          default: run = [0] + (0..<below(4)).map { _ in 1 + below(3) }
          }
          previous = run
          for (i, n) in run.enumerated() { queue.append(Self.event(n), startsRun: i == 0) }
          queue.endRun()
          if open {
            // Only a run's start ends the unit of events outside a run.
            open = false
          }
          units.append(run)
          log.append("run\(run)")
        case 6, 7:
          // Events outside a run: they join the open unit of such events,
          // or open one.
          let events = (0..<(1 + below(3))).map { _ in 1 + below(3) }
          for n in events { queue.append(Self.event(n), startsRun: false) }
          if open { units[units.count - 1] += events } else { units.append(events) }
          open = true
          log.append("out\(events)")
          if below(2) == 0 {
            // The next outermost handler's return ends it.
            queue.endRun()
            open = false
            log.append("end")
          }
        default:
          replay()
        }
      }
      replay()
    }
  }

  /// Events outside a run that did not fit, then a replay, then more
  /// events outside a run (a handler that interrupted another after its
  /// end of run, once more): they are queued and replayed, not dropped
  /// silently with the first ones (the run those opened outlived the
  /// replay, still being dropped).
  @Test func eventsOutsideARunAfterAReplayAreKept() {
    var queue = DeferredEvents(capacity: 2)
    defer { queue.deallocate() }
    for n in [1, 2, 3] { queue.append(Self.event(n), startsRun: false) }
    #expect(queue.dropped == 1)
    queue.clear()
    queue.append(Self.event(2), startsRun: false)
    var replayed: [Int] = []
    queue.forEachEvent { e, _ in replayed.append(Self.name(e)) }
    #expect(replayed == [2])
    #expect(queue.dropped == 0)
  }
}
