import Allocator
import Lockdep
import RCU

/// What the baseline run measured: the scenario's loop with every object
/// freed at once by `kfree`, no RCU.
struct DemoBaseline {
  var objects: Int
  var seconds: Double
  /// The seconds of each timed run, when this is their median.
  var runSeconds: [Double] = []

  /// Nanoseconds of the run per object, measured as a design's is.
  var nsPerObject: Double { seconds * 1e9 / Double(max(1, objects)) }
}

extension DemoBaseline {
  /// `runs`' median run (by time), keeping every run's time.
  init(median runs: [DemoBaseline]) {
    self = runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
    runSeconds = runs.map(\.seconds)
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
    let started = MonotonicClock.now()
    let workers = (0..<threads).map { index in
      DemoThread(name: "demo/\(index)") {
        freeAtOnce(index: index, slab: slab, pages: pages, lock: someLock, gate: gate)
      }
    }
    for worker in workers { worker.join() }
    let seconds = MonotonicClock.now() - started
    precondition(slab.objectsInUse == 0, "demo: objects leaked")
    return DemoBaseline(objects: objects, seconds: seconds)
  }

  /// One thread's part of the baseline: allocate, wait for the drain, free.
  private func freeAtOnce(
    index: Int, slab: SlabAllocator, pages: PageAllocator, lock: Checked.RawSpinLock,
    gate: DemoGate
  ) {
    var batch: [UnsafeMutableRawPointer] = []
    batch.reserveCapacity(objectsPerRound)
    for _ in 0..<rounds {
      allocateRound(from: slab, into: &batch)
      gate.wait()
      if index == 0 { pages.drainPerCPULists() }
      gate.wait()
      for object in batch {
        lock.lock()
        lock.unlock()
        slab.kfree(object)
      }
      batch.removeAll(keepingCapacity: true)
    }
  }
}
