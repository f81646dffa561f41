import Basics
import Testing
import WaitContext

@testable import LockGraph

/// The fast path (`acquireFast`, with the rules folded into each class's
/// `TaskTransitions`) against the full path (`acquire`, which evaluates
/// the sleep and wait-context rules and sets usage bits every time), on
/// random event streams of every lock kind and context: after every event
/// both validators hold the same locks, bit for bit, with the same chain
/// key, and at the end they have found the same findings the same number
/// of times. The fast path is an optimization of lockdep's
/// `__lock_acquire()`, so it may change nothing but speed.
@Suite struct FastPathEquivalenceTests {
  /// Class kinds and wait types, the odd ones included.
  static let kinds: [(LockKind, ClassWaitTypes)] = [
    (.rawSpinlock, try! ClassWaitTypes(kind: .rawSpinlock)),
    (.spinlock, try! ClassWaitTypes(kind: .spinlock)),
    (.rwlock, try! ClassWaitTypes(kind: .rwlock)),
    (.localLock, try! ClassWaitTypes(kind: .localLock)),
    (.mutex, try! ClassWaitTypes(kind: .mutex)),
    (.rwsem, try! ClassWaitTypes(kind: .rwsem)),
    (.rcu, try! ClassWaitTypes(kind: .rcu)),
    (.rcuBH, try! ClassWaitTypes(kind: .rcuBH)),
    (.rcuSched, try! ClassWaitTypes(kind: .rcuSched)),
    (.waitOverride, try! ClassWaitTypes(kind: .waitOverride, inner: .config)),
    (.custom, try! ClassWaitTypes(kind: .custom, inner: .spin, outer: .sleep)),
    (.custom, try! ClassWaitTypes(kind: .custom, inner: .inv)),
    (.spinlock, try! ClassWaitTypes(kind: .spinlock)),
    (.mutex, try! ClassWaitTypes(kind: .mutex)),
  ]

  static let configurations = [
    CheckConfiguration(),
    CheckConfiguration(proveRawLockNesting: false),
    CheckConfiguration(preemptRT: true),
  ]

  /// A core with the classes of `kinds`, registered in order.
  static func core(_ configuration: CheckConfiguration) -> (ValidatorCore, [ClassID]) {
    let core = ValidatorCore(configuration: configuration)
    let ids = kinds.enumerated().map { i, k in
      core.classes.register(key: "c\(i)", name: "&c\(i)", kind: k.0, waits: k.1)!.id
    }
    return (core, ids)
  }

  /// The bytes of a held lock: every field, packed ones included.
  static func bytes(_ lock: HeldLock) -> [UInt8] {
    withUnsafeBytes(of: lock) { Array($0) }
  }

  @Test(arguments: 0..<3)
  func fastAndFullPathsAgreeOnRandomStreams(configurationIndex: Int) throws {
    let configuration = Self.configurations[configurationIndex]
    var fastTaken = 0
    var acquisitions = 0
    for seed in 1...120 {
      let (fastCore, ids) = Self.core(configuration)
      let (fullCore, _) = Self.core(configuration)
      var fast = ThreadValidator(core: fastCore, thread: fastCore.registerThread(token: "1"))
      var full = ThreadValidator(core: fullCore, thread: fullCore.registerThread(token: "1"))
      var stream = RandomStream(seed: UInt64(seed), classes: ids)
      for _ in 0..<500 {
        guard let event = stream.next(held: full.state.held) else { continue }
        if event.verb == .acquire {
          acquisitions += 1
          if !fast.state.stopped && fast.acquireFast(event) {
            fastTaken += 1
          } else {
            try fast.process(event)
          }
          if !full.state.stopped {
            full.acquire(event)
            full.deliverPending()
          }
        } else {
          try fast.process(event)
          try full.process(event)
        }
        #expect(fast.state.held.count == full.state.held.count, "seed \(seed)")
        for (a, b) in zip(fast.state.held, full.state.held) {
          #expect(Self.bytes(a) == Self.bytes(b), "seed \(seed): a held lock differs")
        }
        #expect(fast.state.chainKey == full.state.chainKey, "seed \(seed)")
      }
      let found = fastCore.findings.map { "\($0.kind) x\($0.count)" }
      let expected = fullCore.findings.map { "\($0.kind) x\($0.count)" }
      #expect(found == expected, "seed \(seed)")
    }
    // The streams exercise the fast path, not only the full one.
    #expect(fastTaken > acquisitions / 10, "\(fastTaken) of \(acquisitions) took the fast path")
  }
}

/// Random events of one thread: acquisitions of random classes (reads,
/// trylocks), releases (mostly the newest lock), and balanced context
/// changes (interrupts and bottom halves off, preemption off, hard and
/// soft interrupt handlers, might-sleep).
struct RandomStream {
  var rng: SplitMix
  let classes: [ClassID]
  /// Open contexts and disables, innermost last: the verb that ends each.
  var open: [LockEvent.Verb] = []

  /// Percent of events that change a context: some streams stay in task
  /// context, where the fast path applies, others change context often.
  let contextPercent: Int

  /// A stream over a few of `classes` (so that chains repeat).
  init(seed: UInt64, classes: [ClassID]) {
    rng = SplitMix(seed: seed)
    let chosen = Self.choose(3 + Int(rng.next() % 3), of: classes, &rng)
    // Most sleeping first, raw spinning last: in this order nesting is
    // valid, so clean chains are cached and the fast path runs.
    self.classes = chosen.sorted {
      FastPathEquivalenceTests.kinds[$0.index].1.inner
        > FastPathEquivalenceTests.kinds[$1.index].1.inner
    }
    contextPercent = [0, 2, 10, 25][Int(rng.next() % 4)]
  }

  mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

  /// `count` distinct classes of `classes` (which has at least that many),
  /// drawn at random.
  static func choose(_ count: Int, of classes: [ClassID], _ rng: inout SplitMix) -> [ClassID] {
    var chosen: [ClassID] = []
    while chosen.count < count {
      let c = classes[Int(rng.next() % UInt64(classes.count))]
      if !chosen.contains(c) { chosen.append(c) }
    }
    return chosen
  }

  mutating func next(held: some BidirectionalCollection<HeldLock>) -> LockEvent? {
    let thread = ThreadID(0)
    let roll = below(100)
    let contexts = below(100) < contextPercent
    // Deeper stacks release more often: nesting stays a few locks deep.
    if !contexts && (roll < 70 - 15 * held.count || held.isEmpty) {
      // Mostly in the stream's order (chains repeat and may be clean),
      // sometimes any class (cycles, recursion, invalid waits).
      let after = held.last.flatMap { h in classes.firstIndex(of: h.lockClass) }.map { $0 + 1 } ?? 0
      let c =
        after < classes.count && below(5) != 0
        ? classes[after + below(classes.count - after)] : classes[below(classes.count)]
      let reads: [ReadMode] = [.exclusive, .exclusive, .shared, .recursive]
      return LockEvent(
        .acquire, thread: thread, lockClass: c, read: reads[below(4)], isTrylock: below(20) == 0,
        address: UInt64(0x1000 + below(3) * 8), origin: Origin(ip: UInt64(1 + below(50))))
    }
    if !contexts, !held.isEmpty {
      let pick = below(5) == 0 ? below(held.count) : held.count - 1
      let lock = held[held.index(held.startIndex, offsetBy: pick)]
      // The declared class (subclass 0 is the only one used here).
      return LockEvent(.release, thread: thread, lockClass: lock.lockClass, address: lock.instance)
    }
    if roll < 50 + 10 * open.count, let end = open.last {
      open.removeLast()
      return LockEvent(end, thread: thread)
    }
    let starts: [(LockEvent.Verb, LockEvent.Verb)] = [
      (.irqDisable, .irqEnable), (.bhDisable, .bhEnable), (.preemptDisable, .preemptEnable),
      (.hardirqEnter, .hardirqExit), (.softirqEnter, .softirqExit),
    ]
    if roll < 95 {
      let (start, end) = starts[below(starts.count)]
      open.append(end)
      return LockEvent(start, thread: thread, threaded: below(3) == 0)
    }
    return LockEvent(.mightSleep, thread: thread, origin: Origin(ip: 99))
  }
}
