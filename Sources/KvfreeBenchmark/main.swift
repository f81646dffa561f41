import Allocator
import Basics
import Lockdep
import RCU
import Synchronization

// kvfreeRCU's benchmark (scripts/bench-rcu.sh), validation off, each figure
// against a baseline measured in the same run:
//
// - the kernel's flood test per design: N iterations of kmalloc(24) +
//   kvfreeRCU(p, head:), then a barrier, on one thread and on every
//   processor: wall time (baseline: kmalloc + kfree at once), the most
//   pages held by pointer arrays, the rates of lockless-allocation failures
//   and of list fallbacks;
// - the free walk after a grace period on cache-cold objects (freed in a
//   shuffled order, caches evicted before the walk): arrays (`.nolock`
//   design with pages to spare) against the linked list (`.noLocks` design
//   whose page allocator never has a per-CPU page: every object goes on the
//   list), in nanoseconds per freed object (`KvfreeStatistics.freeNanoseconds`);
// - the read-side pair (rcuReadLock/rcuReadUnlock) against liburcu's and
//   kmalloc + kvfreeRCU + barrier (the deferred design, one thread, best of
//   three floods as liburcu's side is) against liburcu's malloc + call_rcu +
//   rcu_barrier, whose figures the script measures with its C program and
//   passes in.
//
// Lock types: the Allocator and RCU targets always use the validated
// `Checked` locks (the demo must validate in a release build); here
// `LockValidation.policy` is `.off`, so each lock operation costs a call
// into Lockdep and a relaxed load more than a plain lock. liburcu's side
// has no instrumentation: the comparison is, if anything, against us.
//
//   KvfreeBenchmark [--objects N] [--read-iterations N] [--urcu-read-pair NS]
//                   [--urcu-call-rcu NS] [--array-misses X] [--list-misses X]
//                   [--misses-note TEXT]
//   KvfreeBenchmark walk arrays|list N [--no-walk]     (one walk, for cachegrind)
//
// Ends with one JSON line (keys in the README).

#if canImport(Glibc)
  import Glibc
#endif

LockValidation.policy = .off

// MARK: Helpers

func nowNanoseconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}

func fixed(_ value: Double, _ places: Int = 3) -> String {
  guard value.isFinite else { return "null" }
  var scale = 1.0
  for _ in 0..<places { scale *= 10 }
  let scaled = (value * scale).rounded() / scale
  return "\(scaled)"
}

/// Runs `body(thread)` on `threads` threads at once; returns the wall time in ns.
func onThreads(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
  let started = nowNanoseconds()
  let running = (0..<threads).map { index in SpawnedThread { body(index) } }
  for thread in running { thread.join() }
  return nowNanoseconds() - started
}

/// Writes every line of a buffer larger than the last-level cache.
func evictCaches() {
  let bytes = 96 << 20
  let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
  var offset = 0
  while offset < bytes {
    buffer.storeBytes(of: offset, toByteOffset: offset, as: Int.self)
    offset += 64
  }
  var sum = 0
  offset = 0
  while offset < bytes {
    sum &+= buffer.load(fromByteOffset: offset, as: Int.self)
    offset += 4096
  }
  precondition(sum != 1)
  buffer.deallocate()
}

// MARK: The free walk

enum WalkPath: String { case arrays, list }

/// Queues `n` shuffled objects inside a read section (so no grace period
/// ends), evicts the caches, then lets the grace period end and waits for
/// the walk. Returns nanoseconds of the walk per freed object. With
/// `walk == false`, ends the process before the walk (cachegrind's baseline).
func freeWalk(_ path: WalkPath, _ n: Int, walk: Bool = true) -> Double {
  let slabPages = PageAllocator(pages: n * 32 / PageAllocator.pageSize * 2 + 4096)
  let slab = SlabAllocator(pages: slabPages)
  // Arrays: `.nolock` with pages to spare. List: `.noLocks` from an
  // allocator whose per-CPU lists never hold a page, so every object falls
  // back to the list threaded through its head.
  let arrayPages = PageAllocator(pages: path == .arrays ? n / 500 + 256 : 16)
  let kv = KvfreeRCU(
    slab: slab, pages: arrayPages, design: path == .arrays ? .nolock : .noLocks,
    drainDelayMicroseconds: 0)
  var objects: [UnsafeMutableRawPointer] = []
  objects.reserveCapacity(n)
  for _ in 0..<n {
    let object = slab.kmalloc(24)!
    object.initializeMemory(as: RCUHead.self, to: RCUHead())
    objects.append(object)
  }
  var random = SplitMix(seed: 42)
  for i in stride(from: n - 1, to: 0, by: -1) {
    objects.swapAt(i, Int(random.next() % UInt64(i + 1)))
  }
  rcuReadLock()
  for object in objects {
    kv.kvfreeRCU(object, head: object.assumingMemoryBound(to: RCUHead.self))
  }
  objects = []
  evictCaches()
  if !walk { _exit(0) }
  rcuReadUnlock()
  kv.barrier()
  let s = kv.statistics
  precondition(s.objectsFreed == n)
  precondition(path == .arrays ? s.listFallbacks == 0 : s.listFallbacks == n)
  return Double(s.freeNanoseconds) / Double(n)
}

let arguments = Array(CommandLine.arguments.dropFirst())

/// Ends the process with `usage` on standard error, status 2.
func badUsage(_ usage: String) -> Never {
  let line = Array("KvfreeBenchmark: usage: \(usage)\n".utf8)
  _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
  exit(2)
}

/// Argument `index` as a positive count, `fallback` when absent.
func count(at index: Int, fallback: Int, usage: String) -> Int {
  guard arguments.count > index else { return fallback }
  guard let n = Int(arguments[index]), n > 0 else { badUsage(usage) }
  return n
}

if arguments.first == "walk" {
  let usage = "KvfreeBenchmark walk [arrays|list] [N] [--no-walk]"
  guard let path = WalkPath(rawValue: arguments.count > 1 ? arguments[1] : "arrays") else {
    badUsage(usage)
  }
  let n = count(at: 2, fallback: 200_000, usage: usage)
  let ns = freeWalk(path, n, walk: !arguments.contains("--no-walk"))
  print("\(path.rawValue): \(fixed(ns, 2)) ns per freed object")
  fflush(nil)
  _exit(0)
}

// Profiling entry points: one phase alone, under perf or callgrind.
//   KvfreeBenchmark profile allocfree|inline-nowait|no-locks|nolock|deferred N
if arguments.first == "profile" {
  let usage = "KvfreeBenchmark profile [allocfree|inline-nowait|no-locks|nolock|deferred] [N]"
  let what = arguments.count > 1 ? arguments[1] : "allocfree"
  let n = count(at: 2, fallback: 1_000_000, usage: usage)
  let designs: [String: KvfreeDesign] = [
    "inline-nowait": .inlineNowait, "no-locks": .noLocks, "nolock": .nolock,
    "deferred": .deferred,
  ]
  guard what == "allocfree" || designs[what] != nil else { badUsage(usage) }
  let started = nowNanoseconds()
  if let design = designs[what] {
    _ = flood(design, threads: 1, n)
  } else {
    _ = allocFree(threads: 1, n)
  }
  print("\(what): \(fixed((nowNanoseconds() - started) / Double(n), 1)) ns per object")
  fflush(nil)
  _exit(0)
}

func option(_ name: String) -> String? {
  guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count else { return nil }
  return arguments[at + 1]
}
let objects = option("--objects").flatMap { Int($0) } ?? 1_000_000
let readIterations = option("--read-iterations").flatMap { Int($0) } ?? 100_000_000
let urcuReadPair = option("--urcu-read-pair").flatMap { Double($0) }
let urcuCallRCU = option("--urcu-call-rcu").flatMap { Double($0) }
let arrayMisses = option("--array-misses").flatMap { Double($0) }
let listMisses = option("--list-misses").flatMap { Double($0) }
let missesNote = option("--misses-note")
let processors = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

// MARK: Read side

rcuReadLock()
rcuReadUnlock()
var readPair = Double.infinity
for _ in 0..<5 {
  let started = nowNanoseconds()
  for _ in 0..<readIterations {
    rcuReadLock()
    rcuReadUnlock()
  }
  readPair = min(readPair, (nowNanoseconds() - started) / Double(readIterations))
}
print("read side: rcuReadLock/rcuReadUnlock \(fixed(readPair)) ns a pair", terminator: "")
if let urcuReadPair {
  print(
    ", liburcu (memb, _LGPL_SOURCE) \(fixed(urcuReadPair)) ns: \(fixed(readPair / urcuReadPair, 2))x"
      + " (target <= 2x: \(readPair <= 2 * urcuReadPair ? "met" : "missed"))")
} else {
  print(" (liburcu not measured)")
}

// MARK: Flood

/// One flood: `n` kmalloc(24) + kvfreeRCU(p, head:) spread over `threads`, then a barrier.
func flood(_ design: KvfreeDesign, threads: Int, _ n: Int) -> (ns: Double, KvfreeStatistics) {
  let pages = PageAllocator(pages: 1 << 16)
  let slab = SlabAllocator(pages: pages)
  let kv = KvfreeRCU(slab: slab, pages: pages, design: design)
  let started = nowNanoseconds()
  _ = onThreads(threads) { index in
    let share = n / threads + (index < n % threads ? 1 : 0)
    for _ in 0..<share {
      let object = slab.kmalloc(24)!
      kv.kvfreeRCU(object, head: object.assumingMemoryBound(to: RCUHead.self))
    }
  }
  kv.barrier()
  let ns = nowNanoseconds() - started
  let s = kv.statistics
  precondition(s.objectsFreed == n && slab.objectsInUse == 0)
  return (ns, s)
}

/// The baseline: kmalloc(24) + kfree at once, same threads.
func allocFree(threads: Int, _ n: Int) -> Double {
  let pages = PageAllocator(pages: 1 << 16)
  let slab = SlabAllocator(pages: pages)
  return onThreads(threads) { index in
    let share = n / threads + (index < n % threads ? 1 : 0)
    for _ in 0..<share { slab.kfree(slab.kmalloc(24)!) }
  }
}

let names: [KvfreeDesign: String] = [
  .inlineNowait: "inline-nowait", .noLocks: "no-locks", .nolock: "nolock", .deferred: "deferred",
]
let baseline1 = allocFree(threads: 1, objects)
let baselineAll = allocFree(threads: processors, objects)
print(
  "flood: \(objects) x (kmalloc(24) + kvfreeRCU(p, head:)) + barrier; baseline kmalloc + kfree: "
    + "\(fixed(baseline1 / 1e9, 4)) s on 1 thread, \(fixed(baselineAll / 1e9, 4)) s on \(processors)"
)
var designFields: [String] = []
var deferredNsPerObject = Double.nan
for design in KvfreeDesign.allCases {
  let (ns1, s1) = flood(design, threads: 1, objects)
  let (nsAll, sAll) = flood(design, threads: processors, objects)
  let name = names[design]!
  if design == .deferred {
    // Best of three, as liburcu's figure is.
    deferredNsPerObject = ns1 / Double(objects)
    for _ in 0..<2 {
      deferredNsPerObject = min(
        deferredNsPerObject, flood(.deferred, threads: 1, objects).ns / Double(objects))
    }
  }
  let failures = Double(s1.nolockFailures + sAll.nolockFailures) / Double(2 * objects)
  let fallbacks = Double(s1.listFallbacks + sAll.listFallbacks) / Double(2 * objects)
  let peak = max(s1.peakArrayPages, sAll.peakArrayPages)
  print(
    "  \(name): \(fixed(ns1 / 1e9, 4)) s on 1 thread (\(fixed(ns1 / baseline1, 2))x baseline), "
      + "\(fixed(nsAll / 1e9, 4)) s on \(processors) (\(fixed(nsAll / baselineAll, 2))x); "
      + "peak array pages \(s1.peakArrayPages) / \(sAll.peakArrayPages); "
      + "lockless failures \(fixed(failures * 100, 2)) %; list fallbacks \(fixed(fallbacks * 100, 2)) %"
  )
  designFields.append(
    "\"\(name)\": {\"floodSeconds\": \(fixed(ns1 / 1e9, 4)), "
      + "\"floodSecondsAllProcessors\": \(fixed(nsAll / 1e9, 4)), \"peakArrayPages\": \(peak), "
      + "\"nolockFailureRate\": \(fixed(failures, 4)), \"fallbackRate\": \(fixed(fallbacks, 4))}")
}
print(
  "kvfreeRCU (deferred design, 1 thread, best of 3, Checked locks with validation off): "
    + "\(fixed(deferredNsPerObject, 1)) ns per object",
  terminator: "")
if let urcuCallRCU {
  print(
    "; liburcu malloc + call_rcu + rcu_barrier: \(fixed(urcuCallRCU, 1)) ns: "
      + "\(fixed(deferredNsPerObject / urcuCallRCU, 2))x (target <= 1x: "
      + "\(deferredNsPerObject <= urcuCallRCU ? "met" : "missed"))")
} else {
  print(" (liburcu not measured)")
}

// MARK: The free walk

var arrayWalk = Double.infinity
var listWalk = Double.infinity
for _ in 0..<3 {
  arrayWalk = min(arrayWalk, freeWalk(.arrays, objects))
  listWalk = min(listWalk, freeWalk(.list, objects))
}
print(
  "free walk after a grace period, \(objects) cache-cold objects in shuffled order: arrays "
    + "\(fixed(arrayWalk, 2)) ns per object, list \(fixed(listWalk, 2)) ns: list/arrays "
    + "\(fixed(listWalk / arrayWalk, 2))x (target >= 2x: \(listWalk >= 2 * arrayWalk ? "met" : "missed"))"
)
if let arrayMisses, let listMisses {
  print(
    "data-cache misses per freed object (cachegrind): arrays \(fixed(arrayMisses, 3)), list "
      + "\(fixed(listMisses, 3)): list/arrays \(fixed(listMisses / arrayMisses, 2))x (target >= 4x: "
      + "\(listMisses >= 4 * arrayMisses ? "met" : "missed"))")
} else {
  print("data-cache misses per freed object: not measured (\(missesNote ?? "no counter"))")
}

func json(_ value: Double?) -> String { value.map { fixed($0) } ?? "null" }
var fields = [
  "\"arrayNsPerObject\": \(fixed(arrayWalk))", "\"listNsPerObject\": \(fixed(listWalk))",
  "\"arrayMissesPerObject\": \(json(arrayMisses))", "\"listMissesPerObject\": \(json(listMisses))",
  "\"readPairNs\": \(fixed(readPair))", "\"liburcuReadPairNs\": \(json(urcuReadPair))",
  "\"kvfreeNsPerObject\": \(fixed(deferredNsPerObject))",
  "\"liburcuCallRcuNsPerObject\": \(json(urcuCallRCU))",
  "\"objects\": \(objects)", "\"processors\": \(processors)",
  "\"floodBaselineSeconds\": \(fixed(baseline1 / 1e9, 4))",
  "\"floodBaselineSecondsAllProcessors\": \(fixed(baselineAll / 1e9, 4))",
  "\"designs\": {\(designFields.joined(separator: ", "))}",
]
if let missesNote {
  var escaped = ""
  for c in missesNote {
    if c == "\\" || c == "\"" { escaped.append("\\") }
    escaped.append(c)
  }
  fields.append("\"missesNote\": \"\(escaped)\"")
}
print("{" + fields.joined(separator: ", ") + "}")
