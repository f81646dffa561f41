import Allocator
import Lockdep
import RCU

/// What the baseline run measured: the scenario's loop with every object
/// freed at once by `kfree`, no RCU.
struct DemoBaseline {
  var objects: Int
  var seconds: Double
  /// How long each object's empty section kept its thread inside
  /// `&some_lock`: the floor of a design's hold times.
  var hold: DemoHoldTimes
  /// The seconds of each timed run, when this is their median.
  var runSeconds: [Double] = []

  /// Nanoseconds of the run per object, measured as a design's is.
  var nsPerObject: Double { seconds * 1e9 / Double(max(1, objects)) }
}

extension DemoBaseline {
  /// `runs`' median run (by time), keeping every run's time, with each
  /// hold-time percentile's median run.
  init(median runs: [DemoBaseline]) {
    self = runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
    runSeconds = runs.map(\.seconds)
    hold = DemoHoldTimes(median: runs.map(\.hold))
  }
}

extension DemoScenario {
  /// Runs the scenario's loop (same threads, rounds, objects, drains and
  /// `&some_lock` taken and dropped per object) with each object freed at
  /// once by `kfree`, after the lock is dropped (`kfree` under a raw lock
  /// may take the slab's `&n->list_lock`, a `spinlock_t`: an invalid wait
  /// context of its own). The floor each design's figure is a ratio to.
  func runBaseline() -> DemoBaseline {
    let pages = PageAllocator(pages: zonePages)
    let slab = SlabAllocator(pages: pages)
    let someLock = Checked.RawSpinLock(name: "&some_lock", key: LockClassKey("&some_lock"))
    let gate = DemoGate(parties: threads)
    let holds = DemoHoldSamples()
    let started = MonotonicClock.now()
    let workers = (0..<threads).map { index in
      DemoThread(name: "demo/\(index)") {
        holds.add(freeAtOnce(index: index, slab: slab, pages: pages, lock: someLock, gate: gate))
      }
    }
    for worker in workers { worker.join() }
    let seconds = MonotonicClock.now() - started
    precondition(slab.objectsInUse == 0, "demo: objects leaked")
    return DemoBaseline(objects: objects, seconds: seconds, hold: holds.times)
  }

  /// One thread's part of the baseline: allocate, wait for the drain, free.
  /// Returns how long each object's empty section under the lock took.
  private func freeAtOnce(
    index: Int, slab: SlabAllocator, pages: PageAllocator, lock: Checked.RawSpinLock,
    gate: DemoGate
  ) -> [Int] {
    var batch: [UnsafeMutableRawPointer] = []
    batch.reserveCapacity(objectsPerRound)
    var holds: [Int] = []
    holds.reserveCapacity(rounds * objectsPerRound)
    for _ in 0..<rounds {
      allocateRound(from: slab, into: &batch)
      gate.wait()
      if index == 0 { pages.drainPerCPULists() }
      gate.wait()
      for object in batch {
        lock.lock()
        let start = DemoHoldTimes.now()
        holds.append(DemoHoldTimes.now() - start)
        lock.unlock()
        slab.kfree(object)
      }
      batch.removeAll(keepingCapacity: true)
    }
    return holds
  }
}
