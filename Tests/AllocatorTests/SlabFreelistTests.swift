import Allocator
import Basics
import Lockdep
import Synchronization
import Testing

/// The slab's out-of-line freelist: freeing never writes into an object,
/// and under eight threads no object is handed out twice and every one
/// comes back.
@Suite struct SlabFreelistTests {
  init() { LockValidation.policy = .collect }

  @Test func freeingNeverWritesIntoAnObject() {
    let pages = PageAllocator(pages: 512, cpus: 2)
    let slab = SlabAllocator(pages: pages)
    var random = SplitMix(seed: 11)
    var objects: [(UnsafeMutableRawPointer, Int)] = []
    for i in 0..<3000 {
      // Mostly 32-byte objects (several slab pages), some of every class.
      let size = i % 4 == 0 ? SlabAllocator.sizeClasses.randomElement(using: &random)! : 24
      let object = slab.kmalloc(size)!
      object.initializeMemory(as: UInt8.self, repeating: 0xA5, count: size)
      objects.append((object, size))
    }
    func intact() -> Bool {
      objects.allSatisfy { object, size in
        UnsafeRawBufferPointer(start: object, count: size).allSatisfy { $0 == 0xA5 }
      }
    }
    let shuffled = objects.shuffled(using: &random).map(\.0)
    slab.kfreeBulk(Array(shuffled[..<2000]))
    #expect(intact(), "kfreeBulk wrote into a freed object")
    for object in shuffled[2000...] { slab.kfree(object) }
    #expect(intact(), "kfree wrote into a freed object")
    slab.shrink()
    #expect(intact(), "shrink wrote into a freed object")
    #expect(slab.objectsInUse == 0)
    #expect(pages.statistics.pagesInUse == 0, "every slab page back to the page allocator")
  }

  @Test func eightThreadsNeverShareAnObjectAndReturnEveryOne() {
    let pages = PageAllocator(pages: 2048, cpus: 4)
    let slab = SlabAllocator(pages: pages)
    // PThreadMutex, not Synchronization.Mutex: ThreadSanitizer sees its order.
    let live = PThreadMutex<Set<UInt>>([])
    let handedOutTwice = Atomic<Int>(0)
    let allocated = Atomic<Int>(0)
    let scope = LockValidationScope()
    onThreads(8) { thread in
      scope.run {
        var random = SplitMix(seed: UInt64(thread) + 900)
        var held: [UnsafeMutableRawPointer] = []
        func take(_ object: UnsafeMutableRawPointer) {
          let fresh = live.withLock { $0.insert(UInt(bitPattern: object)).inserted }
          if !fresh { handedOutTwice.add(1, ordering: .relaxed) }
          allocated.add(1, ordering: .relaxed)
          held.append(object)
        }
        func give(_ object: UnsafeMutableRawPointer) {
          live.withLock { _ = $0.remove(UInt(bitPattern: object)) }
        }
        for _ in 0..<6000 {
          switch random.next() % 8 {
          case 0..<4 where held.count < 400:
            let size = Int(random.next() % 64) + 1
            if let object = slab.kmalloc(size, gfp: .atomic) { take(object) }
          case 4..<7 where !held.isEmpty:
            let object = held.remove(at: Int(random.next() % UInt64(held.count)))
            give(object)
            slab.kfree(object)
          default:
            // A bulk free of a random slice, as the kvfree_rcu worker does.
            let count = min(held.count, Int(random.next() % 64))
            let batch = Array(held.suffix(count))
            held.removeLast(count)
            for object in batch { give(object) }
            slab.kfreeBulk(batch)
          }
        }
        for object in held { give(object) }
        slab.kfreeBulk(held)
      }
    }
    #expect(handedOutTwice.load(ordering: .relaxed) == 0)
    #expect(allocated.load(ordering: .relaxed) > 10_000)
    #expect(live.withLock { $0.isEmpty })
    #expect(slab.objectsInUse == 0)
    slab.shrink()
    #expect(pages.statistics.pagesInUse == 0, "every slab page back to the page allocator")
    #expect(scope.findings.isEmpty, "\(scope.findings.map(\.text))")
  }

  @Test func aDoubleFreeStopsTheProgram() async {
    await #expect(processExitsWith: .failure) {
      let slab = SlabAllocator(pages: PageAllocator(pages: 16, cpus: 1))
      let object = slab.kmalloc(32)!
      slab.kfreeBulk([object])
      slab.kfreeBulk([object])
    }
  }

  /// A double free that reaches the slab after the free that emptied its
  /// page (the page's objects freed, then one again, in one batch: a
  /// spill, `shrink()` or `kfreeBulk`) stops the program too: the page,
  /// given back to the page allocator, was put on the class's partial
  /// list again, and its object handed out from a page someone else had.
  @Test func aDoubleFreeAfterItsPageEmptiedStopsTheProgram() async {
    await #expect(processExitsWith: .failure) {
      LockValidation.policy = .off
      let slab = SlabAllocator(pages: PageAllocator(pages: 16, cpus: 1))
      // A page's two objects.
      let a = slab.kmalloc(2048)!
      let b = slab.kmalloc(2048)!
      slab.kfree(a)
      slab.kfree(b)
      slab.kfree(a)
      slab.shrink()
    }
    await #expect(processExitsWith: .failure) {
      LockValidation.policy = .off
      let slab = SlabAllocator(pages: PageAllocator(pages: 16, cpus: 1))
      let a = slab.kmalloc(2048)!
      let b = slab.kmalloc(2048)!
      slab.kfreeBulk([a, b, a])
    }
  }

  /// `kfree` twice of the object the CPU's object cache took last (the
  /// fast path, which `kfreeBulk` bypasses) stops the program too, as
  /// SLUB's `set_freepointer()` check does: it would be handed out twice.
  @Test func aDoubleKfreeThroughTheCPUCacheStopsTheProgram() async {
    await #expect(processExitsWith: .failure) {
      let slab = SlabAllocator(pages: PageAllocator(pages: 16, cpus: 1))
      let object = slab.kmalloc(64)!
      slab.kfree(object)
      slab.kfree(object)
    }
  }

  /// A size too large for any order, up to `Int.max`, is nil (the kernel's
  /// NULL), not an overflow.
  @Test func aHugeKmallocIsNil() {
    let slab = SlabAllocator(pages: PageAllocator(pages: 16, cpus: 1))
    for size in [Int.max, Int.max - 1, Int.max - 4094, Int.max / 2, 1 << 40] {
      #expect(slab.kmalloc(size, gfp: .atomic) == nil, "\(size)")
    }
  }
}
