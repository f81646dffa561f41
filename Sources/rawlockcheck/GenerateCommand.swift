import ArgumentParser
import Basics

#if canImport(Glibc)
  import Glibc
#endif

/// `rawlockcheck generate`: writes a synthetic text trace for benchmarks,
/// in one of seven shapes:
/// - `reuse` (the default): hundreds of classes ranked so that nesting is
///   valid, chains up to 8 deep drawn from a fixed set of code paths (so the
///   chain cache sees what a real program shows it), several threads, and
///   interrupts;
/// - `low-reuse`: 200 classes of mixed kinds taken in one global order with
///   random gaps, nesting up to 8 deep, threads interleaved event by event,
///   and hard-interrupt sections taking irq-safe raw spin locks (which task
///   context takes only with interrupts disabled): most chains are new, so
///   the chain cache hits only about a quarter of the time;
/// - `churn`: a thread per task, as a server or a test suite starts them:
///   each thread takes one of the `reuse` shape's code paths once and
///   exits, `--threads` of them alive at a time, interleaved event by
///   event; a thread costs only its declaration once it exits;
/// - `pool`: `churn` without the exits, as a thread pool's workers that
///   never end, or a recorder that records no exit, show it: a thread
///   takes one code path and is never seen again, alive and holding
///   nothing (its memory is then all the trace has of it);
/// - `random-order`: the adversarial shape for the dependency graph: 2,000
///   sleeping locks (mutexes, and read-write semaphores also taken shared)
///   nested up to 8 deep in no order at all, threads interleaved: once the
///   graph fills, most new pairs of classes close a cycle, which is
///   reported (the only shape that is not clean) and refused, so the trace
///   measures the cycle searches and the graph's reordering;
/// - `frees`: `--threads` threads each holding a lock all along and taking
///   the `reuse` shape's code paths under it, and a free of heap memory
///   about every fourth event (`writeFrees`): every free is checked against
///   every thread's held locks;
/// - `deep`: 48 mutexes held at once and released in random order
///   (`writeDeep`): each release below other locks re-validates them.
///
/// Each writes exactly `--events` events, and the others stay clean: a
/// shape stops taking new steps once the next might not fit with what its
/// threads still owe (releases, enables, exits), writes what they owe, and
/// makes up the rest with `fill` (a `might-sleep` and pairs of an
/// acquisition and a release of one mutex, with nothing held).
struct GenerateCommand: ParsableCommand {
  /// The trace's shape.
  enum Shape: String, ExpressibleByArgument, CaseIterable {
    case reuse
    case lowReuse = "low-reuse"
    case churn
    case pool
    case randomOrder = "random-order"
    case frees
    case deep
  }

  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Write a synthetic benchmark trace to standard output.")

  @Option(parsing: .unconditional, help: "Number of events to write.")
  var events: Int = 10_000_000

  @Option(
    help:
      "Trace shape: reuse (fixed code paths, a high chain-cache hit rate), low-reuse (random nesting, about 25% hits), churn (a short-lived thread per code path taken), pool (as churn, no thread exits), random-order (nesting in no order: most new pairs close a cycle, reported), frees (each thread holds a lock all along, a free every fourth event) or deep (48 locks held, released in random order)."
  )
  var shape: Shape = .reuse

  @Option(
    parsing: .unconditional,
    help:
      "Number of lock classes, 16 to \(GenerateCommand.maxClassesOrThreads) (default 400 for reuse, churn, pool, frees and deep, 200 for low-reuse, 2000 for random-order)."
  )
  var classes: Int?

  @Option(
    parsing: .unconditional, help: "Number of threads, 1 to \(GenerateCommand.maxClassesOrThreads)."
  )
  var threads: Int = 4

  @Option(parsing: .unconditional, help: "Random seed.")
  var seed: UInt64 = 1

  @Option(
    parsing: .unconditional,
    help:
      "Declare this many stacks and write events as a recorder does: inst= on every acquisition and release, at= on every acquisition (0: plain events; at most \(GenerateCommand.maxClassesOrThreads))."
  )
  var stacks: Int = 0

  /// The most classes and threads a trace is generated with: the shapes
  /// keep a table of each (16 bytes an entry, and more for the code paths
  /// of a class), allocated before the first line is written, so a larger
  /// count is a usage error rather than a failed allocation.
  static let maxClassesOrThreads = 1_000_000

  func validate() throws {
    for (option, value, least) in [
      ("--events", events, 1), ("--classes", classes ?? 16, 16), ("--threads", threads, 1),
      ("--stacks", stacks, 0),
    ] where value < least {
      throw ValidationError("\(option) must be at least \(least), got \(value)")
    }
    // A declared stack is a line written before the first event: as many
    // as classes at most, or the events would never come.
    guard (classes ?? 0) <= Self.maxClassesOrThreads, threads <= Self.maxClassesOrThreads,
      stacks <= Self.maxClassesOrThreads
    else {
      throw ValidationError(
        "--classes, --threads and --stacks must be at most \(Self.maxClassesOrThreads)")
    }
  }

  func run() throws {
    var out = BufferedOutput()
    var rng = SplitMix(seed: seed)
    try out.write(
      "rawlockcheck-trace 1\n# generated by rawlockcheck generate --events \(events) --seed \(seed)"
        + (shape == .reuse ? "" : " --shape \(shape.rawValue)")
        + (stacks == 0 ? "\n" : " --stacks \(stacks)\n")
    )
    if stacks > 0 {
      for s in 0..<stacks {
        try out.write(
          "stack s\(s) \(NumberText.hex(0x40_1000 + 0x40 * UInt64(s))) "
            + "\(NumberText.hex(0x40_8000 + 0x10 * UInt64(s % 16))) 0x40a000\n")
      }
      out.annotation = RecordedOptions(stacks: stacks, seed: seed)
    }
    switch shape {
    case .reuse: try writeReuse(classes: classes ?? 400, into: &out, rng: &rng)
    case .churn: try writeChurn(classes: classes ?? 400, exits: true, into: &out, rng: &rng)
    case .pool: try writeChurn(classes: classes ?? 400, exits: false, into: &out, rng: &rng)
    case .frees: try writeFrees(classes: classes ?? 400, into: &out, rng: &rng)
    case .deep: try writeDeep(classes: classes ?? 400, into: &out, rng: &rng)
    case .lowReuse:
      var generator = LowReuseGenerator(classes: classes ?? 200, threads: threads)
      try generator.write(events: events, into: &out, rng: &rng)
    case .randomOrder:
      var generator = LowReuseGenerator(classes: classes ?? 2000, threads: threads, ordered: false)
      try generator.write(events: events, into: &out, rng: &rng)
    }
    try out.flush()
  }

  /// The `reuse` shape: a fixed set of code paths, each taken whole by one
  /// thread at a time.
  func writeReuse(classes: Int, into out: inout BufferedOutput, rng: inout SplitMix)
    throws(OutputError)
  {
    try writeRankedClasses(classes, into: &out)
    for t in 1...threads { try out.write("thread \(t) name=worker\(t)\n") }
    let paths = Self.codePaths(classes: classes, rng: &rng)
    // The highest ranks are irq-safe raw spinlocks: interrupt handlers take
    // them, and task context takes them only with interrupts off.
    let irqSafeStart = classes - classes / 8
    var written = 0
    while true {
      let t = 1 + Int(rng.next() % UInt64(threads))
      if rng.next() % 100 < 3 {
        if written + 4 > events { break }
        let c = irqSafeStart + Int(rng.next() % UInt64(classes - irqSafeStart))
        try out.write(
          "\(t) hardirq-enter\n\(t) acquire c\(c)\n\(t) release c\(c)\n\(t) hardirq-exit\n")
        written += 4
        continue
      }
      let path = paths[Int(rng.next() % UInt64(paths.count))]
      // The path's events, with one pair of irq-disable and irq-enable when
      // it reaches the irq-safe ranks.
      if written + path.count * 2 + (path.last! >= irqSafeStart ? 2 : 0) > events { break }
      var irqsOff = false
      for c in path {
        if c >= irqSafeStart && !irqsOff {
          try out.write("\(t) irq-disable\n")
          irqsOff = true
          written += 1
        }
        try out.write("\(t) acquire c\(c)\n")
      }
      for c in path.reversed() {
        try out.write("\(t) release c\(c)\n")
        if irqsOff && (c < irqSafeStart || c == path.first(where: { $0 >= irqSafeStart })) {
          try out.write("\(t) irq-enable\n")
          irqsOff = false
          written += 1
        }
      }
      written += path.count * 2
    }
    try Self.fill(events - written, thread: "1", into: &out)
  }

  /// `count` clean events on thread `thread`, which holds nothing: a
  /// `might-sleep` when `count` is odd, then pairs of an acquisition and a
  /// release of `c0` (a mutex in every shape).
  static func fill(_ count: Int, thread: String, into out: inout BufferedOutput)
    throws(OutputError)
  {
    if count % 2 == 1 { try out.write("\(thread) might-sleep\n") }
    for _ in 0..<(count / 2) { try out.write("\(thread) acquire c0\n\(thread) release c0\n") }
  }

  /// The classes of the `reuse` and `churn` shapes, ranked: sleeping locks
  /// first, then spinlock_t, then raw spinlocks, so that acquiring in rank
  /// order is always a valid nesting.
  func writeRankedClasses(_ classes: Int, into out: inout BufferedOutput) throws(OutputError) {
    let mutexes = classes / 4
    let spins = classes / 2  // then raw spinlocks; the last eighth are irq-safe
    for c in 0..<classes {
      let kind = c < mutexes ? "mutex" : (c < mutexes + spins ? "spinlock" : "raw_spinlock")
      try out.write("class c\(c) \(kind) name=&lock\(c)\n")
    }
  }

  /// A fixed set of code paths: increasing rank sequences, 1 to 8 deep.
  static func codePaths(classes: Int, rng: inout SplitMix) -> [[Int]] {
    var paths: [[Int]] = []
    for _ in 0..<3000 {
      let depth = 1 + Int(rng.next() % 8)
      var ranks = Set<Int>()
      while ranks.count < depth { ranks.insert(Int(rng.next() % UInt64(classes))) }
      paths.append(ranks.sorted())
    }
    return paths
  }

  /// The `churn` shape: `threads` slots, each running one short-lived
  /// thread at a time that takes a code path of the `reuse` shape whole
  /// (below the irq-safe ranks: no interrupts here) and exits (without
  /// `exits`, the `pool` shape: ends with its last release, never seen
  /// again); a new thread then takes the slot. The slots' lines are
  /// interleaved one at a time, and each thread is named by a token of its
  /// own.
  func writeChurn(classes: Int, exits: Bool, into out: inout BufferedOutput, rng: inout SplitMix)
    throws(OutputError)
  {
    try writeRankedClasses(classes, into: &out)
    let irqSafeStart = classes - classes / 8
    let paths = Self.codePaths(classes: classes, rng: &rng).map { $0.filter { $0 < irqSafeStart } }
      .filter { !$0.isEmpty }
    // Per slot: the running thread's token and its lines still to write.
    var running = [(token: Int, lines: [String], next: Int)](
      repeating: (0, [], 0), count: threads)
    var started = 0
    var written = 0
    // The events written and those the running threads still owe.
    var committed = 0
    var starting = true
    // The slots whose thread has lines still to write, and where each slot
    // is among them (-1: not): a line costs the same however many slots
    // are idle (a scan of every slot per line was quadratic in --threads).
    var active: [Int] = []
    var activeIndex = [Int](repeating: -1, count: threads)
    while starting || !active.isEmpty {
      // Once no thread starts, only the running ones are drawn.
      let t =
        starting
        ? Int(rng.next() % UInt64(threads)) : active[Int(rng.next() % UInt64(active.count))]
      if running[t].next == running[t].lines.count {
        // This slot's thread exited (or none ran yet): start the next, unless
        // the next might not fit (then only the running threads finish).
        let path = paths[Int(rng.next() % UInt64(paths.count))]
        let owed = path.count * 2 + (exits ? 1 : 0)
        if committed + owed > events {
          starting = false
          continue
        }
        committed += owed
        started += 1
        running[t] = (
          started,
          path.map { "acquire c\($0)" } + path.reversed().map { "release c\($0)" }
            + (exits ? ["exit"] : []), 0
        )
        activeIndex[t] = active.count
        active.append(t)
      }
      try out.write("w\(running[t].token) \(running[t].lines[running[t].next])\n")
      running[t].next += 1
      written += 1
      if running[t].next == running[t].lines.count {
        // Swap-removed from the running slots.
        let last = active.removeLast()
        if last != t {
          active[activeIndex[t]] = last
          activeIndex[last] = activeIndex[t]
        }
        activeIndex[t] = -1
      }
    }
    try Self.fill(events - written, thread: "w\(started + 1)", into: &out)
  }
}

/// The `low-reuse` shape of `generate`. Classes are ranked (sleeping locks,
/// then spinning ones, then raw spin locks; the top eighth irq-safe raw spin
/// locks) and every thread acquires in rank order with random gaps, so the
/// trace is clean while most held-lock chains are new. Each thread plans its
/// next step (an acquisition, a release, or a whole hard-interrupt section)
/// as a few lines, and the threads' lines are interleaved one at a time.
///
/// Not `ordered` (`random-order`), every class is a sleeping lock (a mutex,
/// or every fifth a read-write semaphore, taken shared half the time), a
/// thread takes any class it does not hold, and no interrupt comes.
struct LowReuseGenerator {
  /// The deepest nesting.
  static let maxDepth = 8
  /// Gaps between the ranks of nested locks are drawn from `1...maxGap`.
  static let maxGap = 8

  struct ThreadState {
    var held: [Int] = []
    /// The held-lock count at which this thread disabled interrupts.
    var irqsOffAt: Int?
    var pending: [String] = []
    var next = 0
  }

  let classes: Int
  let irqSafeStart: Int
  var states: [ThreadState]
  let kinds: [String]
  /// Whether threads acquire in rank order (else in no order).
  let ordered: Bool

  init(classes: Int, threads: Int, ordered: Bool = true) {
    self.classes = classes
    self.ordered = ordered
    self.states = Array(repeating: ThreadState(), count: threads)
    guard ordered else {
      self.irqSafeStart = classes
      self.kinds = (0..<classes).map { $0 % 5 == 4 ? "rwsem" : "mutex" }
      return
    }
    self.irqSafeStart = classes - classes / 8
    // mutex, rwsem, spinlock, rwlock, raw_spinlock: 20/10/25/15/30 %.
    let bounds = [20, 30, 55, 70, 100].map { $0 * classes / 100 }
    let names = ["mutex", "rwsem", "spinlock", "rwlock", "raw_spinlock"]
    self.kinds = (0..<classes).map { c in names[bounds.firstIndex { c < $0 }!] }
  }

  mutating func write(events: Int, into out: inout BufferedOutput, rng: inout SplitMix)
    throws(OutputError)
  {
    for c in 0..<classes { try out.write("class c\(c) \(kinds[c]) name=&lock\(c)\n") }
    for t in 1...states.count { try out.write("thread \(t) name=worker\(t)\n") }
    var written = 0
    // Every line written or owed (planned, or the releases and enables
    // that close what is held) counts against `events`: writing a planned
    // line moves one from owed to written, planning a release changes
    // nothing, planning an acquisition adds at most four lines (irq-disable,
    // acquire, release, irq-enable) and a hard interrupt six. So the loop
    // goes on while six more fit.
    var owed = 0
    while written + owed + 6 <= events {
      let t = Int(rng.next() % UInt64(states.count))
      let before = owing(thread: t)
      if states[t].next == states[t].pending.count { plan(thread: t, rng: &rng) }
      try out.write("\(t + 1) \(states[t].pending[states[t].next])\n")
      states[t].next += 1
      written += 1
      owed += owing(thread: t) - before
    }
    // Every thread releases what it holds, so the trace ends clean.
    for t in states.indices {
      while states[t].next < states[t].pending.count {
        try out.write("\(t + 1) \(states[t].pending[states[t].next])\n")
        states[t].next += 1
        written += 1
      }
      while !states[t].held.isEmpty {
        states[t].pending = []
        states[t].next = 0
        release(thread: t)
        for line in states[t].pending { try out.write("\(t + 1) \(line)\n") }
        written += states[t].pending.count
      }
    }
    try GenerateCommand.fill(events - written, thread: "1", into: &out)
  }

  /// The lines thread `t` still owes: those planned and not written, the
  /// releases of what it holds, and the enable of interrupts it disabled.
  func owing(thread t: Int) -> Int {
    let s = states[t]
    return s.pending.count - s.next + s.held.count + (s.irqsOffAt == nil ? 0 : 1)
  }

  /// Plans thread `t`'s next step into its pending lines.
  mutating func plan(thread t: Int, rng: inout SplitMix) {
    states[t].pending.removeAll(keepingCapacity: true)
    states[t].next = 0
    let held = states[t].held
    if !ordered { return planUnordered(thread: t, rng: &rng) }
    if states[t].irqsOffAt == nil && rng.next() % 100 < 3 {
      // A hard interrupt: one or two irq-safe raw spin locks, in rank order.
      let span = UInt64(classes - irqSafeStart)
      let first = irqSafeStart + Int(rng.next() % span)
      var taken = [first]
      if rng.next() % 2 == 0, first + 1 < classes {
        taken.append(first + 1 + Int(rng.next() % UInt64(classes - first - 1)))
      }
      states[t].pending.append("hardirq-enter")
      for c in taken { states[t].pending.append("acquire c\(c)") }
      for c in taken.reversed() { states[t].pending.append("release c\(c)") }
      states[t].pending.append("hardirq-exit")
      return
    }
    let top = held.last ?? -1
    let next =
      held.isEmpty
      ? Int(rng.next() % UInt64(classes))
      : top + 1 + Int(rng.next() % UInt64(Self.maxGap))
    let acquire = held.count < Self.maxDepth && next < classes && rng.next() % 100 < 60
    if !acquire && !held.isEmpty {
      release(thread: t)
      return
    }
    if !acquire { return plan(thread: t, rng: &rng) }
    if next >= irqSafeStart && states[t].irqsOffAt == nil {
      states[t].pending.append("irq-disable")
      states[t].irqsOffAt = held.count
    }
    var line = "acquire c\(next)"
    if kinds[next] == "rwsem" && rng.next() % 2 == 0 { line += " read" }
    if kinds[next] == "rwlock" && rng.next() % 2 == 0 { line += " read-recursive" }
    states[t].pending.append(line)
    states[t].held.append(next)
  }

  /// `plan` for the `random-order` shape: an acquisition of any class the
  /// thread does not hold, or a release.
  mutating func planUnordered(thread t: Int, rng: inout SplitMix) {
    let held = states[t].held
    if held.count == Self.maxDepth || (!held.isEmpty && rng.next() % 100 >= 55) {
      return release(thread: t)
    }
    var next = Int(rng.next() % UInt64(classes))
    while held.contains(next) { next = Int(rng.next() % UInt64(classes)) }
    var line = "acquire c\(next)"
    if kinds[next] == "rwsem" && rng.next() % 2 == 0 { line += " read" }
    states[t].pending.append(line)
    states[t].held.append(next)
  }

  /// Plans the release of thread `t`'s newest held lock, and enabling
  /// interrupts when it was the lock they were disabled for.
  mutating func release(thread t: Int) {
    let c = states[t].held.removeLast()
    states[t].pending.append("release c\(c)")
    if states[t].irqsOffAt == states[t].held.count {
      states[t].pending.append("irq-enable")
      states[t].irqsOffAt = nil
    }
  }
}

/// `generate --stacks`: the options a recorder writes, added to each
/// acquisition and release line: `inst=` (one instance per class and
/// thread, a cache line apart) and, on an acquisition, `at=` one of the
/// declared stacks (drawn per class from a few, as a lock is taken from a
/// few call sites).
struct RecordedOptions {
  let stacks: Int
  var rng: SplitMix

  init(stacks: Int, seed: UInt64) {
    self.stacks = stacks
    self.rng = SplitMix(seed: seed ^ 0x5eed_57ac)
  }

  /// `text` (whole lines) with the options added.
  mutating func annotate(_ text: String) -> String {
    var out = ""
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    for (i, line) in lines.enumerated() {
      out += line
      // What follows the last line break (nothing, for whole lines).
      if i == lines.count - 1 { break }
      let tokens = line.split(separator: " ")
      if tokens.count >= 3, tokens[1] == "acquire" || tokens[1] == "release",
        let c = UInt64(tokens[2].dropFirst())
      {
        // The thread token's own hash (Swift's is seeded per process).
        let thread = tokens[0].utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) } % 64
        out += " inst=" + NumberText.hex(0x7f3a_0000_0000 + (thread << 20) + 0x40 * c)
        if tokens[1] == "acquire" {
          let site = (c &* 4 &+ rng.next() % 4) % UInt64(stacks)
          out += " at=s\(site)"
        }
      }
      out += "\n"
    }
    return out
  }
}

/// Standard output through a 1 MiB buffer; a failed write throws, so
/// generating stops at the first one.
struct BufferedOutput {
  private var buffer: [UInt8] = []
  /// Options added to each event line (`generate --stacks`), if any.
  var annotation: RecordedOptions? = nil
  init() { buffer.reserveCapacity(1 << 20) }
  /// Appends `s` (whole lines), writing the buffer out once it holds 1 MiB.
  mutating func write(_ s: String) throws(OutputError) {
    if annotation != nil, s.contains(" acquire ") || s.contains(" release ") {
      buffer.append(contentsOf: annotation!.annotate(s).utf8)
    } else {
      buffer.append(contentsOf: s.utf8)
    }
    if buffer.count >= 1 << 20 { try flush() }
  }
  /// Writes out what is buffered.
  mutating func flush() throws(OutputError) {
    let failure = writeAll(buffer, to: 1)
    buffer.removeAll(keepingCapacity: true)
    if failure != 0 { throw OutputError.writeFailed(OutputError.standardOutput, failure) }
  }
}
