import Synchronization

/// The counters that are not per CPU, updated without a lock.
final class KvfreeCounters: Sendable {
  let arrayPagesAllocated = Atomic<Int>(0)
  let arrayPagesUsed = Atomic<Int>(0)
  let peakArrayPages = Atomic<Int>(0)
  let nolockFailures = Atomic<Int>(0)
  /// Headless calls (the head form counts per CPU: `KrcCPUs`).
  let headlessQueued = Atomic<Int>(0)
  let objectsFreed = Atomic<Int>(0)
  let synchronousFrees = Atomic<Int>(0)
  let pagesHeld = Atomic<Int>(0)
  let freeNanoseconds = Atomic<Int>(0)

  /// One more page held; raises the peak.
  func pageTaken() {
    let now = pagesHeld.add(1, ordering: .relaxed).newValue
    var peak = peakArrayPages.load(ordering: .relaxed)
    while now > peak {
      let (done, seen) = peakArrayPages.compareExchange(
        expected: peak, desired: now, ordering: .relaxed)
      if done { break }
      peak = seen
    }
  }

  /// These counters, with the per-CPU ones added in.
  func snapshot(queued: Int, listFallbacks: Int) -> KvfreeStatistics {
    var s = KvfreeStatistics()
    s.arrayPagesAllocated = arrayPagesAllocated.load(ordering: .relaxed)
    s.arrayPagesUsed = arrayPagesUsed.load(ordering: .relaxed)
    s.peakArrayPages = peakArrayPages.load(ordering: .relaxed)
    s.listFallbacks = listFallbacks
    s.nolockFailures = nolockFailures.load(ordering: .relaxed)
    s.objectsQueued = queued + headlessQueued.load(ordering: .relaxed)
    s.objectsFreed = objectsFreed.load(ordering: .relaxed)
    s.synchronousFrees = synchronousFrees.load(ordering: .relaxed)
    s.pagesHeld = pagesHeld.load(ordering: .relaxed)
    s.freeNanoseconds = freeNanoseconds.load(ordering: .relaxed)
    return s
  }
}
