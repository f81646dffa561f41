import Allocator
import Basics
import LockGraph
import Lockdep
import RCU
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A `KvfreeDesign` under the name the command line and the reports use.
enum DemoDesign: String, CaseIterable, Sendable {
  case inlineNowait = "inline-nowait"
  case noLocks = "no-locks"
  case nolock = "nolock"
  case deferred = "deferred"

  /// The RCU target's design.
  var design: KvfreeDesign {
    switch self {
    case .inlineNowait: .inlineNowait
    case .noLocks: .noLocks
    case .nolock: .nolock
    case .deferred: .deferred
    }
  }

  /// Whether the scenario is expected to find an invalid wait context with
  /// this design: only the 2020 kernel's `GFP_NOWAIT` under the raw lock,
  /// and only where the validator can see it (`validatorSeesTheBug`).
  var expectsFinding: Bool { self == .inlineNowait && Self.validatorSeesTheBug }

  /// Whether the validator finds `&zone->lock` under a raw lock at all: with
  /// raw lock nesting checked (CONFIG_PROVE_RAW_LOCK_NESTING), or as for
  /// PREEMPT_RT, where the lock sleeps. Without either
  /// (`RAWLOCKCHECK_NO_RAW_NESTING=1`), a `spinlock_t` counts as a spin
  /// lock, as in lockdep before that option, and the bug goes unseen:
  /// the reason the option exists.
  static var validatorSeesTheBug: Bool {
    LockValidation.checksRawLockNesting || LockValidation.checksAsPreemptRT
  }
}

/// One distinct finding of a design's run, as the demo prints it.
struct DemoFinding {
  /// The finding's kind (`spec/reports.md`).
  var kind: FindingKind
  /// How many times it happened in the runs this finding stands for.
  var count: Int
  /// Its lockdep-style text, symbolized in-process.
  var text: String
}

/// What one design's run measured.
struct DemoResult {
  var design: DemoDesign
  var findings: [DemoFinding]
  var statistics: KvfreeStatistics
  var objects: Int
  var seconds: Double
  /// How long each `kvfreeRCU` call kept its thread inside `&some_lock`.
  var hold: DemoHoldTimes
  /// The seconds of each timed run, when this is their median.
  var runSeconds: [Double] = []
  /// The counters of each timed run, in the order they ran, when this is
  /// their median (`statistics` is the median-time run's).
  var runStatistics: [KvfreeStatistics] = []

  /// Nanoseconds of the run (queueing under the lock, then the barrier) per object.
  var nsPerObject: Double { seconds * 1e9 / Double(max(1, objects)) }

  /// `nsPerObject` over the baseline's (measured in the same run).
  func ratio(to baseline: DemoBaseline) -> Double {
    nsPerObject / max(baseline.nsPerObject, 1e-9)
  }

  /// The findings the design should not have had: for the design that
  /// must find the bug, any that is not the invalid wait context of
  /// `&zone->lock` taken under the raw `&krcp->lock` (checked as for
  /// PREEMPT_RT, where `&zone->lock` sleeps, also the sleep in atomic
  /// context it is there, as `rt_spin_lock()`'s `might_sleep` reports
  /// it); for the others, every finding.
  var unexpected: [DemoFinding] {
    guard design.expectsFinding else { return findings }
    let kinds: [FindingKind] =
      LockValidation.checksAsPreemptRT
      ? [.invalidWaitContext, .sleepInAtomic] : [.invalidWaitContext]
    return findings.filter { finding in
      let report = DemoReportText(finding.text)
      return
        !(kinds.contains(finding.kind) && report.lock == Self.expectedLock
        && report.held.contains(Self.expectedHolder))
    }
  }

  /// Whether the run came out as its design should: the bug found, and
  /// nothing else, or nothing at all.
  var asExpected: Bool {
    unexpected.isEmpty && (findings.isEmpty != design.expectsFinding)
  }

  /// The lock the expected finding takes, and the raw lock it is held under.
  static let expectedLock = "&zone->lock"
  static let expectedHolder = "&krcp->lock"
}

extension DemoResult {
  /// `runs` as one figure: the median run by time, with its counters (so
  /// that the time and the counts describe one real run; every run's time
  /// and counters kept), each hold-time percentile's median run, and the
  /// findings of every run, each counted over all of them (a finding that
  /// only one run's timing produced is one the design has, and the
  /// verdict sees it).
  init(median runs: [DemoResult]) {
    self = runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
    runSeconds = runs.map(\.seconds)
    runStatistics = runs.map(\.statistics)
    hold = DemoHoldTimes(median: runs.map(\.hold))
    // The same finding in two runs differs in its thread and event
    // numbers only: kind, lock, held locks and frames name it.
    var tally = DemoTally()
    for finding in runs.flatMap(\.findings) {
      tally.add(
        identity: "\(finding.kind)\n" + DemoReportText(finding.text).identity,
        count: finding.count
      ) { finding }
    }
    findings = tally.findings
  }
}

/// The seed scenario, `raw_spin_lock(&some_lock); kfree_rcu(p)`, on
/// several threads against one `KvfreeRCU`: each round every thread
/// allocates its objects, one thread drains the per-CPU page lists and the
/// `krcp` page caches, then every thread frees its objects one by one with
/// `&some_lock` (a raw spin lock) held around `kvfreeRCU(p, head:)`.
/// Validation is on (the `Checked` types validate in every build); the
/// findings are collected in a `LockValidationScope` per thread.
struct DemoScenario {
  /// Threads calling `kfree_rcu()`, each under the one `&some_lock`
  /// (their calls run in turn).
  var threads = 4
  /// Rounds per thread (each starts from drained page lists).
  var rounds = 8
  /// Objects each thread frees per round.
  var objectsPerRound = 1024
  /// Size of each object (`kmalloc(24)`: an `RCUHead` and a word).
  static let objectSize = 24

  /// Rounds of the unmeasured warm-up run before the measured ones.
  static let warmUpRounds = 1

  /// Objects freed per design's run.
  var objects: Int { threads * rounds * objectsPerRound }

  /// The most threads `--threads` takes: each holds a round's objects
  /// (eight pages of 24-byte objects) at once, and the zone is sized for them.
  static let maxThreads = 4096

  /// Timed runs of each design and of the baseline, after the warm-up.
  static let measuredRuns = 5

  /// The most rounds `--rounds` takes: as many as one thread may run
  /// under `maxCalls` (65,536 rounds of 1,024 objects), about a minute of
  /// its freeing (a round is about 1 ms), not a run that never ends.
  static let maxRounds = maxCalls / DemoScenario().objectsPerRound

  /// The most `kfree_rcu()` calls a design's run may make (threads x
  /// rounds x `objectsPerRound`), 2^26: each call's hold time is kept (8
  /// bytes, about three copies at the end of a run: 1.5 GiB at this
  /// bound), and at about 1 µs a call a run of them takes about a minute,
  /// as `maxRounds` on one thread does (`maxRounds` is this bound's for one
  /// thread).
  static let maxCalls = 1 << 26

  /// Pages in the zone: a round's objects of every thread (8 pages each,
  /// 16 with room for the slabs' partial pages and the pointer arrays),
  /// and never fewer than 4,096 (16 MiB).
  var zonePages: Int { max(4096, threads * 16 + 1024) }

  /// Runs the scenario with `design` and collects its findings and counters.
  func run(_ design: DemoDesign) -> DemoResult {
    let before = LockValidation.findings.count
    let pages = PageAllocator(pages: zonePages)
    let slab = SlabAllocator(pages: pages)
    let scope = LockValidationScope()
    let someLock = Checked.RawSpinLock(name: "&some_lock", key: LockClassKey("&some_lock"))
    let gate = DemoGate(parties: threads)
    let holds = DemoHoldSamples()
    var statistics = KvfreeStatistics()
    var seconds = 0.0
    do {
      let kv = KvfreeRCU(
        slab: slab, pages: pages, design: design.design, drainDelayMicroseconds: 200)
      let started = MonotonicClock.now()
      let workers = (0..<threads).map { index in
        DemoThread(name: "demo/\(index)") {
          scope.run {
            holds.add(
              freeUnderRawLock(
                index: index, kv: kv, slab: slab, pages: pages, lock: someLock, gate: gate))
          }
        }
      }
      for worker in workers { worker.join() }
      kv.barrier()
      seconds = MonotonicClock.now() - started
      statistics = kv.statistics
    }
    precondition(slab.objectsInUse == 0, "demo: objects leaked")
    return DemoResult(
      design: design, findings: distinct(scope.findings, globalFrom: before),
      statistics: statistics, objects: objects, seconds: seconds, hold: holds.times)
  }

  /// A round's objects, each allocated from `slab` and initialized as an
  /// RCU head, appended to `batch`. When the zone is out of pages (the
  /// objects freed in earlier rounds still wait for their grace period:
  /// a machine so busy that RCU's threads fall seconds behind), `reclaim`
  /// (the design's `kvfree_rcu_barrier()`, then its shrinker) waits for
  /// them to be freed and gives the cached pages back, and the allocation
  /// is tried again, as the kernel's reclaim would; a zone still empty
  /// ends the demo with one line, status 2.
  func allocateRound(
    from slab: SlabAllocator, into batch: inout [UnsafeMutableRawPointer],
    reclaim: () -> Void = {}
  ) {
    for _ in 0..<objectsPerRound {
      guard
        let object = slab.kmalloc(Self.objectSize)
          ?? {
            reclaim()
            return slab.kmalloc(Self.objectSize)
          }()
      else {
        writeStandardError(
          "rawlockcheck: demo: the zone's \(zonePages) pages ran out with every deferred free "
            + "done and every cached page given back\n")
        exit(2)
      }
      object.initializeMemory(as: RCUHead.self, to: RCUHead())
      batch.append(object)
    }
  }

  /// One thread's part: allocate, wait for the drain, free under the raw
  /// lock. Returns how long each free kept the thread inside the lock.
  private func freeUnderRawLock(
    index: Int, kv: KvfreeRCU, slab: SlabAllocator, pages: PageAllocator,
    lock: Checked.RawSpinLock, gate: DemoGate
  ) -> [Int] {
    var batch: [UnsafeMutableRawPointer] = []
    batch.reserveCapacity(objectsPerRound)
    var holds: [Int] = []
    holds.reserveCapacity(rounds * objectsPerRound)
    for _ in 0..<rounds {
      // The deferred frees, then the krcp caches' pages, go back.
      allocateRound(from: slab, into: &batch) {
        kv.barrier()
        kv.shrink()
      }
      gate.wait()
      if index == 0 {
        // The per-CPU page lists and the krcp page caches empty: the next
        // array page must come from the design's allocation.
        kv.shrink()
        pages.drainPerCPULists()
      }
      gate.wait()
      for object in batch {
        lock.lock()  // raw_spin_lock(&some_lock);
        let start = DemoHoldTimes.now()
        kv.kvfreeRCU(object, head: object.assumingMemoryBound(to: RCUHead.self))  // kfree_rcu(p);
        holds.append(DemoHoldTimes.now() - start)
        lock.unlock()
      }
      batch.removeAll(keepingCapacity: true)
    }
    return holds
  }

  /// The scope's occurrences, one per distinct finding (kind, locks and
  /// stack; the first occurrence's text) with the number of times it
  /// happened (the sum of its occurrences' counts), then any new
  /// process-wide finding no scope saw (the `kvfree_rcu` worker's).
  private func distinct(_ occurrences: [LockValidationScope.Occurrence], globalFrom: Int)
    -> [DemoFinding]
  {
    var tally = DemoTally()
    for occurrence in occurrences {
      // Kind, lock, held locks and stack: rendered only once per identity.
      let f = occurrence.finding
      let identity =
        "\(f.kind)/\(f.lock?.lockClass.raw ?? -1)/\(f.held.map(\.lockClass.raw))/\(f.origin.stack.raw)"
      tally.add(identity: identity, count: occurrence.count) {
        DemoFinding(kind: f.kind, count: 0, text: occurrence.text)
      }
    }
    var result = tally.findings
    for finding in LockValidation.findings.dropFirst(globalFrom) {
      let text = LockValidation.describe(finding)
      if !result.contains(where: { $0.text == text }) {
        result.append(DemoFinding(kind: finding.kind, count: finding.count, text: text))
      }
    }
    return result
  }
}

/// A reusable barrier for the demo's threads (spinning with `sched_yield`).
final class DemoGate: Sendable {
  private let parties: Int
  private let arrived = Atomic<Int>(0)
  private let generation = Atomic<Int>(0)

  init(parties: Int) { self.parties = parties }

  /// Waits until every party has called `wait()` in this generation.
  func wait() {
    let current = generation.load(ordering: .acquiring)
    if arrived.add(1, ordering: .acquiringAndReleasing).newValue == parties {
      arrived.store(0, ordering: .relaxed)
      generation.store(current + 1, ordering: .releasing)
      return
    }
    while generation.load(ordering: .acquiring) == current { sched_yield() }
  }
}

/// A named pthread running `body` once.
struct DemoThread: Sendable {
  private let thread: SpawnedThread

  /// Starts a thread that names itself `name` in reports, then runs `body`;
  /// when the system cannot start one (`ulimit -u`, no memory for its
  /// stack), the demo ends there: one line on stderr, exit status 2.
  init(name: String, _ body: @escaping @Sendable () -> Void) {
    do {
      thread = try SpawnedThread.starting {
        LockValidation.setThreadName(name)
        body()
      }
    } catch {
      Self.stop(error)
    }
  }

  /// Ends the demo for a thread it could not start (its other threads may
  /// be waiting for that one: nothing is joined).
  static func stop(_ error: ThreadStartError) -> Never {
    writeStandardError("rawlockcheck: demo: \(error)\n")
    exit(2)
  }

  /// Ends the demo now, as `stop`, unless the system starts a thread: the
  /// allocator's and RCU's own threads stop the program otherwise, with
  /// a crash report.
  static func checkThreadsStart() {
    do {
      try SpawnedThread.probe()
    } catch {
      stop(error)
    }
  }

  /// Waits for the thread to end.
  func join() { thread.join() }
}
