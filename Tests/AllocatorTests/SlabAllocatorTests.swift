import Allocator
import Basics
import Lockdep
import Synchronization
import Testing

@Suite struct SlabAllocatorTests {
  init() { LockValidation.policy = .collect }

  @Test func objectsNeverOverlapAndAllComeBack() {
    let pages = PageAllocator(pages: 2048, cpus: 2)
    let slab = SlabAllocator(pages: pages)
    let scope = LockValidationScope()
    scope.run {
      var random = SplitMix(seed: 7)
      let sizes = [0, 1, 8, 9, 24, 64, 100, 256, 700, 2048, 2049, 4096, 5000, 20_000]
      var objects: [(UnsafeMutableRawPointer, Int)] = []
      for _ in 0..<800 {
        let size = sizes.randomElement(using: &random)!
        guard let object = slab.kmalloc(size) else {
          Issue.record("kmalloc(\(size)) failed")
          continue
        }
        #expect(pages.contains(object))
        objects.append((object, max(size, 1)))
      }
      #expect(slab.objectsInUse == objects.count)
      // No two objects share a byte: sorted by address, each ends before the next.
      let sorted = objects.sorted { $0.0 < $1.0 }
      for (a, b) in zip(sorted, sorted.dropFirst()) {
        #expect(a.0 + a.1 <= b.0, "\(a.0) (\(a.1) bytes) overlaps \(b.0)")
      }
      // Fill each, then check no write reached another.
      for (i, (object, size)) in objects.enumerated() {
        object.initializeMemory(
          as: UInt8.self, repeating: UInt8(truncatingIfNeeded: i), count: size)
      }
      for (i, (object, size)) in objects.enumerated() {
        let bytes = UnsafeRawBufferPointer(start: object, count: size)
        #expect(bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: i) })
      }
      let shuffled = objects.shuffled(using: &random).map(\.0)
      slab.kfreeBulk(Array(shuffled[..<300]))
      for object in shuffled[300...] { slab.kfree(object) }
    }
    #expect(slab.objectsInUse == 0)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0, "every slab page back to the page allocator")
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
  }

  @Test func sizeClassesAlignTheirObjects() {
    let slab = SlabAllocator(pages: PageAllocator(pages: 64, cpus: 1))
    for size in SlabAllocator.sizeClasses {
      let object = slab.kmalloc(size)!
      #expect(Int(bitPattern: object) % size == 0)
      slab.kfree(object)
    }
    let large = slab.kmalloc(3 * PageAllocator.pageSize)!
    #expect(Int(bitPattern: large) % (4 * PageAllocator.pageSize) == 0, "an order-2 block")
    slab.kfree(large)
  }

  @Test func exhaustionIsNil() {
    let pages = PageAllocator(pages: 8, cpus: 1, pcpHigh: 2, pcpBatch: 1)
    let slab = SlabAllocator(pages: pages)
    #expect(slab.kmalloc(16 * PageAllocator.pageSize) == nil, "larger than the arena")
    var objects: [UnsafeMutableRawPointer] = []
    while let object = slab.kmalloc(1024, gfp: .atomic) { objects.append(object) }
    #expect(objects.count == 8 * 4)
    #expect(slab.kmalloc(8, gfp: .kernel) == nil)
    slab.kfreeBulk(objects)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0)
  }

  @Test func noLocksTakesOnlyTrylocks() {
    let pages = PageAllocator(pages: 32, cpus: 1, pcpHigh: 4, pcpBatch: 2)
    let slab = SlabAllocator(pages: pages)
    let raw = Checked.RawSpinLock(name: "test_slab_nolocks_raw")
    let scope = LockValidationScope()
    let (empty, cached) = scope.run {
      // No page on the per-CPU list: nothing to cut a slab from.
      let empty = raw.withLock { slab.kmalloc(64, gfp: .noLocks) }
      let page = pages.allocPages(gfp: .nowait)!
      pages.freePages(page)
      let cached = raw.withLock { slab.kmalloc(64, gfp: .noLocks) }
      return (empty, cached)
    }
    #expect(empty == nil)
    #expect(cached != nil)
    #expect(pages.statistics.zoneLockAcquisitions == 1, "only the explicit refill")
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
    if let cached { slab.kfree(cached) }
  }

  @Test func kmallocUnderARawSpinLockIsAnInvalidWaitContext() throws {
    let slab = SlabAllocator(pages: PageAllocator(pages: 32, cpus: 1))
    let raw = Checked.RawSpinLock(name: "test_slab_raw")
    let scope = LockValidationScope()
    let object = scope.run { raw.withLock { slab.kmalloc(32, gfp: .atomic) } }
    let finding = try #require(scope.findings.first { $0.finding.kind == .invalidWaitContext })
    #expect(tryingToLock(finding)?.contains("&n->list_lock") == true, "\(finding.text)")
    if let object { slab.kfree(object) }
  }

  @Test func fourThreadsAtOnce() {
    let pages = PageAllocator(pages: 1024, cpus: 2)
    let slab = SlabAllocator(pages: pages)
    let corrupted = Atomic<Int>(0)
    let scope = LockValidationScope()
    onThreads(4) { thread in
      scope.run {
        var random = SplitMix(seed: UInt64(thread) + 200)
        var held: [(UnsafeMutableRawPointer, Int, UInt8)] = []
        for step in 0..<20_000 {
          if held.count < 200 && (held.isEmpty || random.next() % 2 == 0) {
            let size = Int(random.next() % 3000) + 1
            guard let object = slab.kmalloc(size, gfp: step % 2 == 0 ? .kernel : .atomic) else {
              continue
            }
            let tag = UInt8(truncatingIfNeeded: random.next())
            object.initializeMemory(as: UInt8.self, repeating: tag, count: size)
            held.append((object, size, tag))
          } else {
            let (object, size, tag) = held.remove(at: Int(random.next() % UInt64(held.count)))
            if !UnsafeRawBufferPointer(start: object, count: size).allSatisfy({ $0 == tag }) {
              corrupted.add(1, ordering: .relaxed)
            }
            slab.kfree(object)
          }
        }
        slab.kfreeBulk(held.map(\.0))
      }
    }
    #expect(corrupted.load(ordering: .relaxed) == 0)
    #expect(slab.objectsInUse == 0)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0)
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
  }
}
