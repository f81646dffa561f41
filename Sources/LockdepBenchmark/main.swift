// The live validator's cost, each figure against a baseline measured in the
// same run (`scripts/bench-live.sh`): an uncontended acquire/release pair of
// a validated lock whose chain was seen before, against the same pair on a
// bare lock of the same kind; the plain (release-build) types against the
// bare locks; the pair under 1, 4 and 16 held locks and on 1, 2 and 8
// threads at once; and the capture of a stack. Ends with one JSON line.
import Lockdep
import Symbolizer
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Nanoseconds of CPU time of the calling thread: on a shared machine, and
/// with more threads than processors, wall time would count the time a
/// thread waits for a processor.
func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The best (lowest) nanoseconds per iteration over `rounds` rounds.
func measure(_ iterations: Int, rounds: Int = 7, _ body: (Int) -> Void) -> Double {
  var best = Double.infinity
  body(iterations / 10)  // warm up: first chains, caches
  for _ in 0..<rounds {
    let start = now()
    body(iterations)
    best = min(best, Double(now() - start) / Double(iterations))
  }
  return best
}

/// The best nanoseconds per iteration of each of `bodies`, measured in
/// turn, one round of each after another, so that a disturbed stretch of a
/// shared machine falls on all of them alike rather than on whichever ran
/// then (a figure and its baseline are compared).
func measureInterleaved(_ iterations: Int, rounds: Int = 7, _ bodies: [(Int) -> Void]) -> [Double] {
  var best = [Double](repeating: .infinity, count: bodies.count)
  for body in bodies { body(iterations / 10) }  // warm up: first chains, caches
  for _ in 0..<rounds {
    for (i, body) in bodies.enumerated() {
      let start = now()
      body(iterations)
      best[i] = min(best[i], Double(now() - start) / Double(iterations))
    }
  }
  return best
}

/// A bare test-and-test-and-set spin lock: the baseline for spin locks.
final class BareSpin: @unchecked Sendable {
  let word = Atomic<UInt32>(0)
  @inline(never) func lock() {
    while !word.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
      while word.load(ordering: .relaxed) != 0 {}
    }
  }
  @inline(never) func unlock() { word.store(0, ordering: .releasing) }
}

/// A bare pthread mutex: the baseline for sleeping locks.
final class BareMutex: @unchecked Sendable {
  let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  init() { pthread_mutex_init(m, nil) }
  deinit {
    pthread_mutex_destroy(m)
    m.deallocate()
  }
  @inline(never) func lock() { pthread_mutex_lock(m) }
  @inline(never) func unlock() { pthread_mutex_unlock(m) }
}

let n = 2_000_000

/// Takes `first`, then `second` under it, and releases both, `times` times.
@inline(never) func takeInOrder(_ first: Checked.Mutex, _ second: Checked.Mutex, times: Int) {
  for _ in 0..<times {
    first.lock()
    second.lock()
    second.unlock()
    first.unlock()
  }
}
LockValidation.policy = .collect

// `LockdepBenchmark loop [mutex|spin|bare-spin|life|inversion] [COUNT]`: only pairs of one
// lock (for `perf stat`, whose cycle counts a shared machine disturbs less).
if CommandLine.arguments.dropFirst().first == "loop" {
  let arguments = CommandLine.arguments
  let kind = arguments.count > 2 ? arguments[2] : "mutex"
  let count = arguments.count > 3 ? Int(arguments[3]) ?? 20_000_000 : 20_000_000
  switch kind {
  case "spin":
    let lock = Checked.RawSpinLock(name: "&bench->loop")
    for _ in 0..<count {
      lock.lock()
      lock.unlock()
    }
  case "life":
    for _ in 0..<count {
      let lock = Checked.Mutex(name: "&bench->object")
      lock.lock()
      lock.unlock()
    }
  case "inversion":
    // A known lock-order inversion taken again and again: every repeat of
    // the refused dependency is counted, not reported again.
    let a = Checked.Mutex(name: "&bench->a", key: LockClassKey("&bench->a"))
    let b = Checked.Mutex(name: "&bench->b", key: LockClassKey("&bench->b"))
    takeInOrder(a, b, times: 1)
    takeInOrder(b, a, times: count)
  case "bare-spin":
    let lock = BareSpin()
    for _ in 0..<count {
      lock.lock()
      lock.unlock()
    }
  default:
    let lock = Checked.Mutex(name: "&bench->loop")
    for _ in 0..<count {
      lock.lock()
      lock.unlock()
    }
  }
  exit(0)
}

let bareMutex = BareMutex()
let mutex = Checked.Mutex(name: "&bench->mutex")
let plainMutex = Plain.Mutex()
// `Synchronization.Mutex`'s shape over a plain lock: compiled away as the
// plain lock is (before 2026-12-07 an unspecialized call, about 2x).
let protectedMutex = Protected(0, by: Plain.Mutex())
let mutexFigures = measureInterleaved(
  n,
  [
    { k in
      for _ in 0..<k {
        bareMutex.lock()
        bareMutex.unlock()
      }
    },
    { k in
      for _ in 0..<k {
        mutex.lock()
        mutex.unlock()
      }
    },
    { k in
      for _ in 0..<k {
        plainMutex.lock()
        plainMutex.unlock()
      }
    },
    { k in
      for _ in 0..<k { protectedMutex.withLock { $0 &+= 1 } }
    },
  ])
let (bareMutexNs, mutexNs, plainMutexNs) = (mutexFigures[0], mutexFigures[1], mutexFigures[2])
let protectedMutexNs = mutexFigures[3]

let bareSpin = BareSpin()
let raw = Checked.RawSpinLock(name: "&bench->raw")
let plainRaw = Plain.RawSpinLock()
let protectedRaw = Protected(0, by: Plain.RawSpinLock())
let spinFigures = measureInterleaved(
  n,
  [
    { k in
      for _ in 0..<k {
        bareSpin.lock()
        bareSpin.unlock()
      }
    },
    { k in
      for _ in 0..<k {
        raw.lock()
        raw.unlock()
      }
    },
    { k in
      for _ in 0..<k {
        plainRaw.lock()
        plainRaw.unlock()
      }
    },
    { k in
      for _ in 0..<k { protectedRaw.withLock { $0 &+= 1 } }
    },
  ])
let (bareSpinNs, rawNs, plainRawNs) = (spinFigures[0], spinFigures[1], spinFigures[2])
let protectedRawNs = spinFigures[3]

// Depth: the pair taken under depth - 1 other held locks (distinct classes).
var depthNs: [Int: Double] = [:]
for depth in [1, 4, 16] {
  let outer = (0..<(depth - 1)).map {
    Checked.Mutex(name: "&bench->outer\($0)", key: LockClassKey("&bench->outer\($0)"))
  }
  for l in outer { l.lock() }
  let inner = Checked.Mutex(name: "&bench->inner")
  depthNs[depth] = measure(n) { k in
    for _ in 0..<k {
      inner.lock()
      inner.unlock()
    }
  }
  for l in outer.reversed() { l.unlock() }
}

// The adversarial shape for the per-thread memo of recent chains
// (`ChainMemo`, four slots by class id): eight classes taken in turn, two
// per slot, so that every acquisition misses it and runs the full fast
// path (rules, usage, chain-key hash, cache probe).
let rotating = (0..<8).map {
  Checked.Mutex(name: "&bench->rotating\($0)", key: LockClassKey("&bench->rotating\($0)"))
}
let rotatingNs = measure(n) { k in
  var i = 0
  for _ in 0..<k {
    let lock = rotating[i]
    lock.lock()
    lock.unlock()
    i = (i + 1) & 7
  }
}

// Threads: each thread its own mutex of one class, all at once.
func threaded(_ count: Int) -> Double {
  let iterations = n / 2
  let results = Synchronization.Mutex<[Double]>([])
  var threads: [pthread_t] = []
  final class Job: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
  }
  for _ in 0..<count {
    let job = Job {
      let lock = Checked.Mutex(name: "&bench->perthread", key: LockClassKey("&bench->perthread"))
      let ns = measure(iterations, rounds: 3) { k in
        for _ in 0..<k {
          lock.lock()
          lock.unlock()
        }
      }
      results.withLock { $0.append(ns) }
    }
    var thread = pthread_t()
    let arg = Unmanaged.passRetained(job).toOpaque()
    pthread_create(
      &thread, nil,
      { arg in
        let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
        job.body()
        return nil
      }, arg)
    threads.append(thread)
  }
  for t in threads { pthread_join(t, nil) }
  let all = results.withLock { $0 }
  return all.reduce(0, +) / Double(all.count)
}
let threadNs = [1: threaded(1), 2: threaded(2), 8: threaded(8)]

// A lock's whole life: made (its class found by its site), taken once,
// freed (the held-lock check of its bytes), against a bare pthread mutex
// allocated, initialized, taken once, destroyed and freed: a program that
// makes a lock per object pays this per object.
@inline(never) func makeValidated() -> Checked.Mutex { Checked.Mutex(name: "&bench->object") }
@inline(never) func makeBare() -> BareMutex { BareMutex() }
let lifeFigures = measureInterleaved(
  n / 20,
  [
    { k in
      for _ in 0..<k {
        let lock = makeBare()
        lock.lock()
        lock.unlock()
      }
    },
    { k in
      for _ in 0..<k {
        let lock = makeValidated()
        lock.lock()
        lock.unlock()
      }
    },
  ])
let (bareLifeNs, lifeNs) = (lifeFigures[0], lifeFigures[1])

// A known lock-order inversion taken again and again (a buggy path in a hot
// loop): its chain is never cached, so that each repeat is counted; the
// pair of the inversion's two locks against the same two locks taken in
// their recorded order (chain cached), alternating rounds.
let orderedA = Checked.Mutex(name: "&bench->ordered_a", key: LockClassKey("&bench->ordered_a"))
let orderedB = Checked.Mutex(name: "&bench->ordered_b", key: LockClassKey("&bench->ordered_b"))
takeInOrder(orderedA, orderedB, times: 1)
let inversionFigures = measureInterleaved(
  n / 20,
  [
    { k in takeInOrder(orderedA, orderedB, times: k) },
    { k in takeInOrder(orderedB, orderedA, times: k) },
  ])
let (orderedNs, inversionNs) = (inversionFigures[0], inversionFigures[1])

// A new stack: 20 frames captured by the frame-pointer walk.
@inline(never) func recurse(_ depth: Int, _ body: () -> Double) -> Double {
  depth == 0 ? body() : recurse(depth - 1, body) + 0
}
let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
let stackNs = recurse(18) {
  measure(200_000) { k in for _ in 0..<k { _ = StackCapture.capture(into: buffer, skip: 0) } }
}

func f(_ x: Double) -> String {
  let r = (x * 10).rounded() / 10
  return String(r)
}
print("uncontended acquire/release pair, chain seen before (best of 7 rounds of \(n)):")
print(
  "  Checked.Mutex        \(f(mutexNs)) ns   bare pthread mutex \(f(bareMutexNs)) ns   +\(f(mutexNs - bareMutexNs)) ns, \(f(mutexNs / bareMutexNs))x"
)
print(
  "  Checked.RawSpinLock  \(f(rawNs)) ns   bare spin lock     \(f(bareSpinNs)) ns   +\(f(rawNs - bareSpinNs)) ns, \(f(rawNs / bareSpinNs))x"
)
print(
  "  Plain.Mutex          \(f(plainMutexNs)) ns   (release build: \(f(plainMutexNs / bareMutexNs))x bare)"
)
print(
  "  Plain.RawSpinLock    \(f(plainRawNs)) ns   (release build: \(f(plainRawNs / bareSpinNs))x bare)"
)
print(
  "  Protected<Plain.Mutex, Int>.withLock        \(f(protectedMutexNs)) ns   (\(f(protectedMutexNs / bareMutexNs))x bare)"
)
print(
  "  Protected<Plain.RawSpinLock, Int>.withLock  \(f(protectedRawNs)) ns   (\(f(protectedRawNs / bareSpinNs))x bare)"
)
for d in [1, 4, 16] { print("  depth \(d): \(f(depthNs[d]!)) ns") }
print("  8 classes in turn (memo misses): \(f(rotatingNs)) ns")
for t in [1, 2, 8] { print("  \(t) threads: \(f(threadNs[t]!)) ns per pair per thread") }
print("  20-frame stack capture: \(f(stackNs)) ns")
print(
  "  a lock's life (made, taken once, freed): Checked.Mutex \(f(lifeNs)) ns   bare \(f(bareLifeNs)) ns"
)
print(
  "  a known inversion taken again (its findings counted): \(f(inversionNs)) ns   the same two locks in order \(f(orderedNs)) ns"
)
print(
  "{\"mutexPairNs\": \(f(mutexNs)), \"bareMutexPairNs\": \(f(bareMutexNs)), \"rawSpinPairNs\": \(f(rawNs)), \"bareSpinPairNs\": \(f(bareSpinNs)), \"releaseMutexPairNs\": \(f(plainMutexNs)), \"releaseSpinPairNs\": \(f(plainRawNs)), \"releaseProtectedMutexPairNs\": \(f(protectedMutexNs)), \"releaseProtectedSpinPairNs\": \(f(protectedRawNs)), \"stackCaptureNs\": \(f(stackNs)), \"depth1PairNs\": \(f(depthNs[1]!)), \"depth4PairNs\": \(f(depthNs[4]!)), \"depth16PairNs\": \(f(depthNs[16]!)), \"rotatingPairNs\": \(f(rotatingNs)), \"threads1PairNs\": \(f(threadNs[1]!)), \"threads2PairNs\": \(f(threadNs[2]!)), \"threads8PairNs\": \(f(threadNs[8]!)), \"lockLifeNs\": \(f(lifeNs)), \"inversionRepeatNs\": \(f(inversionNs)), \"orderedPairsNs\": \(f(orderedNs)), \"bareLockLifeNs\": \(f(bareLifeNs)), \"findings\": \(LockValidation.findings.count)}"
)
