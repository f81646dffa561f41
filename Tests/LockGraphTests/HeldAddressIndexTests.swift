import Basics
import Testing
import WaitContext

@testable import LockGraph

/// A `free` or `init` finds every thread's held locks in its memory
/// (lockdep's `debug_check_no_locks_freed()`, over every thread of a
/// trace), through the index of held locks by page (`HeldAddressIndex`).
/// Each test runs one event at a time and as one batch.
@Suite struct HeldAddressIndexTests {
  /// A validator with spinlock classes `c0` to `c15`.
  static func validator() throws -> (LockValidator, [ClassID]) {
    var v = LockValidator()
    let waits = try ClassWaitTypes(kind: .spinlock)
    let classes = (0..<16).map { v.declareClass(key: "c\($0)", kind: .spinlock, waits: waits) }
    return (v, classes)
  }

  /// One event at a time, or as one batch (`ThreadSlotsTests.run`).
  static func run(_ events: [LockEvent], on v: inout LockValidator, batch: Bool) throws {
    try ThreadSlotsTests.run(events, on: &v, batch: batch)
  }

  /// The threads named in held-lock-freed findings.
  static func holders(_ v: LockValidator) -> [ThreadID] {
    v.findings.findings.compactMap { finding -> ThreadID? in
      guard case .heldLockFreed(_, _, let holder, _) = finding.detail else { return nil }
      return holder
    }
  }

  /// A thread that released one of two locks in one page still holds the
  /// other: a free of the first's memory finds nothing, and a free of the
  /// second's finds it (the page's entry is not dropped for the lock
  /// released).
  @Test(arguments: [false, true])
  func aLockReleasedLeavesTheOtherOfItsPageFound(batch: Bool) throws {
    var (v, c) = try Self.validator()
    let holder = v.declareThread(token: "holder")
    let freer = v.declareThread(token: "freer")
    try Self.run(
      [
        LockEvent(.acquire, thread: holder, lockClass: c[0], address: 0x7000),
        LockEvent(.acquire, thread: holder, lockClass: c[1], address: 0x7040),
        LockEvent(.release, thread: holder, lockClass: c[0], address: 0x7000),
        LockEvent(.free, thread: freer, address: 0x7000, length: 64),
      ], on: &v, batch: batch)
    #expect(v.findings.findings.isEmpty)
    try Self.run(
      [LockEvent(.free, thread: freer, address: 0x7040, length: 8)], on: &v, batch: batch)
    #expect(Self.holders(v) == [holder])
  }

  /// Frees of ranges wider than the pages listed, many of them (past the
  /// point where the listed pages are kept sorted and searched) with new
  /// holders between some (which the sorted pages must not miss): each
  /// frees exactly the held locks in its range, as a check of every
  /// thread finds them.
  @Test(arguments: [false, true])
  func manyWideFreesAmongHoldersFindWhatAPassFinds(batch: Bool) throws {
    var (v, c) = try Self.validator()
    var rng = SplitMix(seed: 7)
    var holding: [(thread: ThreadID, address: UInt64)] = []
    func hold(_ n: Int) throws {
      for _ in 0..<n {
        let thread = v.declareThread(token: "h\(holding.count)")
        let address = (rng.next() % 0x1_0000) << 20 | 0x40
        holding.append((thread, address))
        try Self.run(
          [LockEvent(.acquire, thread: thread, lockClass: c[holding.count % 16], address: address)],
          on: &v, batch: batch)
      }
    }
    try hold(60)
    let freer = v.declareThread(token: "freer")
    for round in 0..<40 {
      if round % 7 == 3 { try hold(5) }
      let from = (rng.next() % 0x1_0000) << 20
      let length = (rng.next() % 0x800 + 0x20) << 20
      try Self.run(
        [LockEvent(.free, thread: freer, address: from, length: length)], on: &v, batch: batch)
      let freed = holding.filter { $0.address >= from && $0.address - from < length }
      holding.removeAll { $0.address >= from && $0.address - from < length }
      for (thread, address) in holding {
        #expect(
          v.heldLocks(of: thread).map(\.instance) == [address],
          "round \(round): a lock outside the range was dropped")
      }
      for (thread, _) in freed {
        #expect(v.heldLocks(of: thread).isEmpty, "round \(round): a lock inside the range kept")
      }
    }
    #expect(holding.count < 75, "no free hit a holder")
  }

  /// A free of more pages than any thread holds locks in (a whole heap
  /// region) finds the locks in it, and a free of the whole address space
  /// finds every holder, in thread order (each holds its own class: a
  /// finding is one per class).
  @Test(arguments: [false, true])
  func aFreeOfAWideRangeFindsEveryLockInIt(batch: Bool) throws {
    var (v, c) = try Self.validator()
    let threads = (0..<3).map { v.declareThread(token: "t\($0)") }
    let freer = v.declareThread(token: "freer")
    try Self.run(
      [
        LockEvent(.acquire, thread: threads[2], lockClass: c[2], address: 0x10_0000_0040),
        LockEvent(.acquire, thread: threads[1], lockClass: c[1], address: 0x7FFF_0000_0000),
        LockEvent(.acquire, thread: threads[0], lockClass: c[0], address: 0xFFFF_FFFF_FFFF_FFF8),
        LockEvent(.free, thread: freer, address: 0x10_0000_0000, length: 1 << 40),
      ], on: &v, batch: batch)
    #expect(Self.holders(v) == [threads[2]])
    try Self.run(
      [LockEvent(.free, thread: freer, address: 0, length: UInt64.max)], on: &v, batch: batch)
    #expect(Self.holders(v) == [threads[2], threads[0], threads[1]])
  }

  /// Locks taken and released at thousands of addresses, each indexed by
  /// a free elsewhere, leave the index no larger than a bound of the locks
  /// held and the threads (it is rebuilt from the held locks), and a lock
  /// held all along is still found.
  @Test(arguments: [false, true])
  func theIndexStaysBoundedAndKeepsTheLocksHeld(batch: Bool) throws {
    var (v, c) = try Self.validator()
    let holder = v.declareThread(token: "holder")
    let churner = v.declareThread(token: "churner")
    var events = [LockEvent(.acquire, thread: holder, lockClass: c[0], address: 0x5000)]
    var largest = 0
    for i in 0..<5000 {
      let at = 0x1000_0000 + UInt64(i) * 4096
      events.append(LockEvent(.acquire, thread: churner, lockClass: c[1], address: at))
      events.append(LockEvent(.free, thread: holder, address: 0x10, length: 8))
      events.append(LockEvent(.release, thread: churner, lockClass: c[1], address: at))
      if i % 100 == 99 {
        try Self.run(events, on: &v, batch: batch)
        events.removeAll()
        largest = max(largest, v.pool.heldAddresses.entries)
      }
    }
    #expect(largest <= 1100)
    try Self.run(
      [LockEvent(.free, thread: churner, address: 0x5000, length: 4)], on: &v, batch: batch)
    #expect(Self.holders(v) == [holder])
  }

  /// Each thread's held locks match a model of the rule after every event
  /// of random traces: acquisitions of instances spread over a few pages or
  /// many, releases in any order, exits, and frees and inits of ranges of
  /// every size by any thread, each dropping the locks in its memory from
  /// every thread. Enough distinct pages that the index is rebuilt.
  @Test(arguments: [false, true])
  func heldLocksFollowAModelOfFrees(batch: Bool) throws {
    var rng = SplitMix(seed: 77)
    for round in 0..<6 {
      var (v, c) = try Self.validator()
      let threadCount = [3, 40, 300][round % 3]
      let threads = (0..<threadCount).map { v.declareThread(token: "t\($0)") }
      var model = [[(lockClass: Int, instance: UInt64)]](repeating: [], count: threadCount)
      let pageCount: UInt64 = round < 3 ? 4 : 5000
      func address() -> UInt64 {
        0x100_0000 + (rng.next() % pageCount) * 4096 + (rng.next() % 64) * 64
      }
      for _ in 0..<4000 {
        let t = Int(rng.next() % UInt64(threadCount))
        let roll = rng.next() % 100
        var event: LockEvent
        if roll < 15 {
          let from = address()
          let length: UInt64 = [0, 1, 64, 4096, 1 << 20, 1 << 40][Int(rng.next() % 6)]
          event = LockEvent(.free, thread: threads[t], address: from, length: length)
          for i in model.indices {
            model[i].removeAll { $0.instance &- from < event.freedLength }
          }
        } else if roll < 18 {
          let at = address()
          event = LockEvent(.initLock, thread: threads[t], lockClass: c[0], address: at)
          for i in model.indices { model[i].removeAll { $0.instance == at } }
        } else if roll < 60, model[t].count < 5, (model[t].last?.lockClass ?? 0) < 15 {
          // Classes in increasing order, so that nothing is recursive.
          let next = (model[t].last?.lockClass ?? -1) + 1
          let instance = address()
          event = LockEvent(.acquire, thread: threads[t], lockClass: c[next], address: instance)
          model[t].append((next, instance))
        } else if !model[t].isEmpty {
          let (lockClass, instance) = model[t].remove(at: Int(rng.next() % UInt64(model[t].count)))
          event = LockEvent(
            .release, thread: threads[t], lockClass: c[lockClass], address: instance)
        } else {
          continue
        }
        try Self.run([event], on: &v, batch: batch)
        for (i, thread) in threads.enumerated() {
          let held = v.heldLocks(of: thread).map(\.instance)
          #expect(held == model[i].map(\.instance), "round \(round), thread \(i)")
        }
      }
    }
  }
}
