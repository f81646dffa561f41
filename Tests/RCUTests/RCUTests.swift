import Allocator
import Foundation
import LockGraph
import Lockdep
import RCU
import Synchronization
import Testing

/// An object readers check: an embedded head, then `words` words of `magic`.
/// Retiring it overwrites the words with `poison` just before it is freed.
enum TestObject {
  static let words = 8
  static let payloadOffset = MemoryLayout<RCUHead>.stride
  static let size = payloadOffset + words * 8
  static let magic: UInt64 = 0x5AFE_C0DE_5AFE_C0DE
  static let poison: UInt64 = 0xDEAD_DEAD_DEAD_DEAD

  static func make(_ slab: SlabAllocator) -> UnsafeMutableRawPointer {
    let object = slab.kmalloc(size)!
    object.initializeMemory(as: RCUHead.self, to: RCUHead())
    let payload = (object + payloadOffset).bindMemory(to: UInt64.self, capacity: words)
    for i in 0..<words { payload[i] = magic }
    return object
  }

  static func poisonPayload(_ object: UnsafeMutableRawPointer) {
    let payload = (object + payloadOffset).assumingMemoryBound(to: UInt64.self)
    for i in 0..<words { payload[i] = poison }
  }

  /// How many words are not `magic` (read twice, a little apart).
  static func damage(_ object: UnsafeMutableRawPointer) -> Int {
    let payload = (object + payloadOffset).assumingMemoryBound(to: UInt64.self)
    var bad = 0
    for _ in 0..<2 {
      for i in 0..<words where payload[i] != magic { bad += 1 }
    }
    return bad
  }

  static func head(_ object: UnsafeMutableRawPointer) -> UnsafeMutablePointer<RCUHead> {
    object.assumingMemoryBound(to: RCUHead.self)
  }

  /// A one-CPU `KvfreeRCU` of `design` over a 256-page allocator, with no
  /// drain delay, and the slab its objects come from.
  static func oneCPU(_ design: KvfreeDesign) -> (slab: SlabAllocator, kv: KvfreeRCU) {
    let pages = PageAllocator(pages: 256, cpus: 1)
    let slab = SlabAllocator(pages: pages)
    let kv = KvfreeRCU(
      slab: slab, pages: pages, design: design, cpus: 1, drainDelayMicroseconds: 0)
    return (slab, kv)
  }
}

/// What readers and updaters share in a stress run.
final class StressState: @unchecked Sendable {
  let current = Atomic<UnsafeMutableRawPointer?>(nil)
  let stop = Atomic<Bool>(false)
  let damaged = Atomic<Int>(0)
  let reads = Atomic<Int>(0)
}

/// A counter or flag threads share.
final class Shared: Sendable {
  let value = Atomic<Int>(0)
  func add(_ n: Int = 1) { value.add(n, ordering: .relaxed) }
  func set(_ n: Int) { value.store(n, ordering: .releasing) }
  var now: Int { value.load(ordering: .acquiring) }
}

/// Starts `count` threads running `body(index)`; returns a join function.
func startThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> () -> Void {
  let group = DispatchGroup()
  for index in 0..<count {
    group.enter()
    let thread = Thread {
      body(index)
      group.leave()
    }
    thread.start()
  }
  return { group.wait() }
}

/// Readers in three threads (one per flavour) dereference `state.current`
/// inside read sections until `state.stop`, counting damaged reads.
func startReaders(_ state: StressState) -> () -> Void {
  startThreads(3) { index in
    var reads = 0
    while !state.stop.load(ordering: .relaxed) {
      let check = {
        guard let object = state.current.load(ordering: .acquiring) else { return }
        let bad = TestObject.damage(object)
        if bad > 0 { state.damaged.add(bad, ordering: .relaxed) }
      }
      switch index {
      case 0: withRCURead(check)
      case 1: withRCUReadBH(check)
      default: withRCUReadSched { withRCURead(check) }
      }
      reads += 1
      // Counted as it goes (every 64th), so a writer can wait for reads.
      if reads == 64 {
        state.reads.add(reads, ordering: .relaxed)
        reads = 0
      }
    }
    state.reads.add(reads, ordering: .relaxed)
  }
}

/// The text of the lock a finding was trying to take.
func tryingToLock(_ text: String) -> String? {
  let lines = text.split(separator: "\n")
  guard let at = lines.firstIndex(where: { $0.hasSuffix("is trying to lock:") }),
    at + 1 < lines.count
  else { return nil }
  return String(lines[at + 1])
}

@Suite(.serialized)
struct RCUTests {
  init() { LockValidation.policy = .collect }

  @Test("callRCU: no object is freed while a reader can see it; every callback runs; nothing leaks")
  func callRCUStress() {
    let pages = PageAllocator(pages: 256, cpus: 2)
    let slab = SlabAllocator(pages: pages)
    let state = StressState()
    state.current.store(TestObject.make(slab), ordering: .releasing)
    let queued = Shared()
    let ran = Shared()
    let joinReaders = startReaders(state)
    // At least 1.2 s, 1,001 objects and 1,001 reads, however busy the
    // machine (a run beside two other jobs queued 721 in 1.2 s); at most
    // 60 s.
    let deadline = ContinuousClock.now + .milliseconds(1200)
    let limit = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline
      || (queued.now <= 1000 || state.reads.load(ordering: .relaxed) <= 1000)
        && ContinuousClock.now < limit
    {
      let old = state.current.exchange(TestObject.make(slab), ordering: .acquiringAndReleasing)!
      let address = UInt(bitPattern: old)
      queued.add()
      callRCU {
        let old = UnsafeMutableRawPointer(bitPattern: address)!
        TestObject.poisonPayload(old)
        slab.kfree(old)
        ran.add()
      }
      usleep(20)
    }
    state.stop.store(true, ordering: .relaxed)
    joinReaders()
    slab.kfree(state.current.exchange(nil, ordering: .relaxed)!)
    rcuBarrier()
    #expect(state.damaged.load(ordering: .relaxed) == 0)
    #expect(state.reads.load(ordering: .relaxed) > 1000)
    #expect(queued.now > 1000)
    #expect(ran.now == queued.now)
    #expect(slab.objectsInUse == 0)
  }

  @Test(
    "kvfreeRCU: no object is freed while a reader can see it; every free happens; nothing leaks",
    arguments: KvfreeDesign.allCases)
  func kvfreeStress(design: KvfreeDesign) {
    let pages = PageAllocator(pages: 512, cpus: 2)
    let arrayPages = PageAllocator(pages: 64, cpus: 2, pcpHigh: 8, pcpBatch: 4)
    let slab = SlabAllocator(pages: pages)
    var statistics = KvfreeStatistics()
    let state = StressState()
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: arrayPages, design: design, cacheLimit: 2,
        drainDelayMicroseconds: 500, beforeFree: TestObject.poisonPayload)
      state.current.store(TestObject.make(slab), ordering: .releasing)
      let joinReaders = startReaders(state)
      // Half a second, and on until the readers read 1,001 times however
      // busy the machine; at most 60 s.
      let deadline = ContinuousClock.now + .milliseconds(500)
      let limit = ContinuousClock.now + .seconds(60)
      var round = 0
      while ContinuousClock.now < deadline
        || state.reads.load(ordering: .relaxed) <= 1000 && ContinuousClock.now < limit
      {
        let old = state.current.exchange(TestObject.make(slab), ordering: .acquiringAndReleasing)!
        // Mostly the head form (never sleeps); every eighth object headless.
        if round % 8 == 7 {
          kv.kvfreeRCU(old)
        } else {
          kv.kvfreeRCU(old, head: TestObject.head(old))
        }
        round += 1
        if round % 4 == 0 { usleep(10) }
      }
      state.stop.store(true, ordering: .relaxed)
      joinReaders()
      let last = state.current.exchange(nil, ordering: .relaxed)!
      kv.kvfreeRCU(last, head: TestObject.head(last))
      kv.barrier()
      statistics = kv.statistics
      #expect(statistics.objectsQueued == round + 1)
      #expect(statistics.objectsFreed == statistics.objectsQueued)
    }
    // The instance is gone: its worker ended and its cached pages went back.
    #expect(state.damaged.load(ordering: .relaxed) == 0)
    #expect(state.reads.load(ordering: .relaxed) > 1000)
    #expect(slab.objectsInUse == 0)
    let counts = arrayPages.statistics
    #expect(counts.pagesInUse == 0)
    #expect(counts.pagesAllocated == counts.pagesFreed)
    #expect(counts.pagesAllocated >= statistics.arrayPagesAllocated)
    #expect(statistics.peakArrayPages >= 1 || statistics.listFallbacks > 0)
  }

  /// Inside its own section, `synchronizeRCU()` waits for the other
  /// threads only, as documented, also while another thread runs a grace
  /// period (which waits for this section): it waited for that thread's
  /// grace-period lock, and both hung, and every RCU user after them.
  @Test func synchronizeInsideASectionReturnsDuringAnotherGracePeriod() {
    let done = DispatchSemaphore(value: 0)
    let entered = DispatchSemaphore(value: 0)
    let inside = LockValidationScope()
    Thread {
      entered.wait()
      usleep(20_000)
      synchronizeRCU()
      done.signal()
    }.start()
    Thread {
      inside.run {
        withRCURead {
          entered.signal()
          usleep(100_000)
          synchronizeRCU()
        }
      }
      done.signal()
    }.start()
    let finished = [done.wait(timeout: .now() + 20), done.wait(timeout: .now() + 20)]
    #expect(finished == [.success, .success], "synchronizeRCU hung inside a section")
    #expect(inside.findings.contains { $0.finding.kind == .sleepInAtomic })
  }

  @Test("synchronizeRCU inside a read section is a sleep-in-atomic finding")
  func synchronizeInsideReadSection() {
    let outside = LockValidationScope()
    outside.run { synchronizeRCU() }
    #expect(outside.findings.isEmpty)

    let inside = LockValidationScope()
    inside.run { withRCURead { synchronizeRCU() } }
    let sleeps = inside.findings.filter { $0.finding.kind == .sleepInAtomic }
    // mightSleep() first; the grace-period mutex it then takes is another,
    // and an invalid wait context (a sleeping lock under rcu_read_lock).
    #expect(!sleeps.isEmpty)
    #expect(inside.findings.allSatisfy { $0.text.contains("rcu_read_lock") })
    #expect(
      Set(inside.findings.map(\.finding.kind)).subtracting([.sleepInAtomic, .invalidWaitContext])
        .isEmpty, "\(inside.findings.map(\.text))")
  }

  @Test(
    "An rcu_bh section disables bottom halves: a lock taken in it and in a softirq is consistent, and the section ends with it"
  )
  func bottomHalfSection() {
    let scope = LockValidationScope()
    let spin = Checked.SpinLock(name: "test_bh_spinlock", key: LockClassKey("test_bh_spinlock"))
    let mutex = Checked.Mutex(name: "test_bh_mutex", key: LockClassKey("test_bh_mutex"))
    scope.run {
      // rcu_read_lock_bh(); spin_lock(); ...: never SOFTIRQ-ON.
      withRCUReadBH { spin.withLock {} }
      Checked.withSoftIRQ { spin.withLock {} }
      // Bottom halves are back on after the section: a mutex may sleep.
      mutex.withLock {}
      withRCUReadBH { withRCUReadBH {} }
      mutex.withLock {}
    }
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    // Inside one, a sleep is a sleep with bottom halves disabled.
    let inside = LockValidationScope()
    inside.run { withRCUReadBH { mightSleep() } }
    #expect(inside.findings.map(\.finding.kind) == [.sleepInAtomic])
    #expect(inside.findings.first?.text.contains("bottom halves disabled") == true)
  }

  @Test("Sleeping in an rcu_sched section, and a spinlock_t there, are findings")
  func schedSection() {
    let scope = LockValidationScope()
    let spin = Checked.SpinLock(name: "test_spinlock", key: LockClassKey("test_spinlock"))
    scope.run {
      withRCUReadSched { mightSleep() }
      withRCUReadSched { spin.withLock {} }
      withRCURead { spin.withLock {} }
    }
    let kinds = scope.findings.map(\.finding.kind)
    #expect(kinds.filter { $0 == .sleepInAtomic }.count == 1)
    #expect(kinds.filter { $0 == .invalidWaitContext }.count == 1)
  }

  @Test(
    "A raw spin lock held + kvfreeRCU(p, head) with drained per-CPU lists: only .inlineNowait takes &zone->lock",
    arguments: KvfreeDesign.allCases)
  func waitContext(design: KvfreeDesign) {
    let pages = PageAllocator(pages: 64, cpus: 2)
    let slab = SlabAllocator(pages: pages)
    let kv = KvfreeRCU(slab: slab, pages: pages, design: design, drainDelayMicroseconds: 0)
    let object = TestObject.make(slab)
    let outer = Checked.RawSpinLock(name: "test_raw_lock", key: LockClassKey("test_raw_lock"))
    pages.drainPerCPULists()
    let scope = LockValidationScope()
    scope.run {
      outer.lock()
      kv.kvfreeRCU(object, head: TestObject.head(object))
      outer.unlock()
    }
    let invalid = scope.findings.filter { $0.finding.kind == .invalidWaitContext }
    if design == .inlineNowait {
      // The zone lock, under &krcp->lock (whatever else the allocator takes).
      #expect(invalid.contains { tryingToLock($0.text)?.contains("&zone->lock") == true })
      #expect(!invalid.isEmpty && invalid.allSatisfy { $0.text.contains("&krcp->lock") })
    } else {
      #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    }
    kv.barrier()
    #expect(kv.statistics.objectsFreed == 1)
    #expect(slab.objectsInUse == 0)
  }

  @Test("rcuBarrier waits for every callback queued before it")
  func barrierOrder() {
    let ran = Shared()
    for _ in 0..<100 { callRCU { ran.add() } }
    rcuBarrier()
    #expect(ran.now == 100)
  }

  @Test("A grace period waits for a reader that entered before it")
  func gracePeriodWaits() {
    let entered = DispatchSemaphore(value: 0)
    let release = Shared()
    let left = Shared()
    let join = startThreads(1) { _ in
      rcuReadLock()
      rcuReadLock()
      entered.signal()
      while release.now == 0 { usleep(100) }
      rcuReadUnlock()
      usleep(20_000)
      left.set(1)
      rcuReadUnlock()
    }
    entered.wait()
    #expect(rcuReadLockHeld() == false)
    release.set(1)
    synchronizeRCU()
    #expect(left.now == 1)
    join()
  }
}
