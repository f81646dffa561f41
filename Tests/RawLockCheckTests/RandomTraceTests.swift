import Basics
import Foundation
import Testing

/// SplitMix: small, fast, and the same on every platform, so a seed
/// reproduces its trace.
extension SplitMix {
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
  mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Writes random traces that are valid by `spec/trace-format.md` but have
/// odd shapes: classes and stacks declared lazily between events, threads
/// named late, subclasses, nest locks, instances, every context verb
/// (balanced), trylocks, reads, might-lock, might-sleep, init, free and
/// exit, several threads interleaved.
struct RandomTrace {
  private var rng: SplitMix
  private var lines = ["rawlockcheck-trace 1"]
  private var declared: [String] = []
  private var stacks = 0
  private let classCount: Int

  private enum Open: Equatable { case hardirq, softirq, nmi }

  private struct Held {
    var cls: String
    var inst: UInt64
    var context: Int  // the open-context depth it was taken at
  }

  private struct ThreadModel {
    var held: [Held] = []
    var contexts: [Open] = []
    var irqOff = 0
    var bhOff = 0
    var preemptOff = 0
  }

  private var threads: [ThreadModel]

  static let kinds = [
    "raw_spinlock", "spinlock", "rwlock", "local_lock", "mutex", "rwsem", "rt_mutex", "rcu",
    "rcu_bh", "rcu_sched", "srcu", "wait_override inner=spin", "wait_override inner=config",
    "custom inner=spin outer=config", "custom inner=sleep type=percpu",
    "custom inner=free type=override", "custom inner=inv",
  ]

  init(seed: UInt64) {
    rng = SplitMix(seed: seed)
    classCount = 3 + Int(seed % 12)
    threads = Array(repeating: ThreadModel(), count: 1 + Int(seed % 4))
  }

  /// The class token for index `i`, declared the first time it is used.
  private mutating func useClass(_ i: Int) -> String {
    let key = i % 5 == 4 ? "c\(i)_x.y" : "C\(i)"
    if !declared.contains(key) {
      var line = "class \(key) \(Self.kinds[(i * 7 + Int(rng.below(3))) % Self.kinds.count])"
      switch rng.below(4) {
      case 0: line += " name=\"&obj->lock #\(i) \\\"q\\\"\""
      case 1: line += " name=&c\(i)->lock"
      default: break
      }
      lines.append(line)
      declared.append(key)
    }
    return key
  }

  private mutating func randomClass() -> String { useClass(rng.below(classCount)) }

  /// An ` at=` option with a stack declared now, or a new or old one.
  private mutating func at() -> String {
    guard rng.chance(30) else { return "" }
    if stacks == 0 || rng.chance(40) {
      let frames = (0...rng.below(4)).map { _ in
        "0x\(String(0x40_0000 + rng.below(0x1_0000), radix: 16))"
      }
      lines.append("stack s\(stacks) \(frames.joined(separator: " "))")
      stacks += 1
    }
    return " at=s\(rng.below(stacks))"
  }

  private mutating func instance() -> UInt64 {
    rng.chance(50) ? 0 : UInt64(0x1000 + 0x40 * rng.below(16))
  }

  /// One event (and any declarations it needs) on a random thread.
  private mutating func step() {
    let t = rng.below(threads.count)
    let tid = "\(t + 1)"
    var m = threads[t]
    defer { threads[t] = m }
    if rng.chance(1) {
      lines.append("thread \(tid) name=\(rng.pick(["worker", "\"irq/12 eth0\"", "kswapd0"]))")
    }
    let depth = m.contexts.count
    switch rng.below(100) {
    case 0..<34:
      guard m.held.count < 40 else { fallthrough }
      let cls = randomClass()
      var line = "\(tid) acquire \(cls)"
      if rng.chance(10) { line += " try" }
      switch rng.below(10) {
      case 0: line += " read"
      case 1: line += " read-recursive"
      default: break
      }
      if rng.chance(20) { line += " sub=\(1 + rng.below(7))" }
      if rng.chance(8) {
        let nest = m.held.isEmpty || rng.chance(30) ? randomClass() : rng.pick(m.held).cls
        line += " nest=\(nest)"
      }
      let inst = instance()
      if inst != 0 { line += " inst=0x\(String(inst, radix: 16))" }
      line += at()
      if rng.chance(10) { line += " ip=0x\(String(0x50_0000 + rng.below(4096), radix: 16))" }
      lines.append(line)
      m.held.append(Held(cls: cls, inst: inst, context: depth))
    case 34..<62:
      // Release a lock of the current context (sometimes one not held).
      let mine = m.held.indices.filter { m.held[$0].context == depth }
      if let i = mine.isEmpty || rng.chance(3) ? nil : rng.pick(mine) {
        let h = m.held.remove(at: i)
        var line = "\(tid) release \(h.cls)"
        if h.inst != 0 && rng.chance(80) { line += " inst=0x\(String(h.inst, radix: 16))" }
        lines.append(line + at())
      } else {
        lines.append("\(tid) release \(randomClass())")
      }
    case 62..<66:
      lines.append("\(tid) might-lock \(randomClass())\(rng.chance(30) ? " read" : "")\(at())")
    case 66..<68: lines.append("\(tid) might-sleep\(at())")
    case 68..<76:
      guard depth < 4 else { fallthrough }
      let open = rng.pick([Open.hardirq, .hardirq, .softirq, .softirq, .nmi])
      switch open {
      case .hardirq: lines.append("\(tid) hardirq-enter\(rng.chance(40) ? " threaded" : "")")
      case .softirq: lines.append("\(tid) softirq-enter")
      case .nmi: lines.append("\(tid) nmi-enter")
      }
      m.contexts.append(open)
    case 76..<84:
      guard let open = m.contexts.popLast() else { fallthrough }
      lines.append("\(tid) \(Self.name(open))-exit")
      m.held.removeAll { $0.context == depth }
    case 84..<93:
      let which = rng.below(3)
      let counts = [m.irqOff, m.bhOff, m.preemptOff]
      let verb = ["irq", "bh", "preempt"][which]
      if counts[which] > 0 && rng.chance(55) {
        lines.append("\(tid) \(verb)-enable")
        if which == 0 {
          m.irqOff -= 1
        } else if which == 1 {
          m.bhOff -= 1
        } else {
          m.preemptOff -= 1
        }
      } else {
        lines.append("\(tid) \(verb)-disable")
        if which == 0 {
          m.irqOff += 1
        } else if which == 1 {
          m.bhOff += 1
        } else {
          m.preemptOff += 1
        }
      }
    case 93..<96:
      let inst =
        m.held.last.map(\.inst).flatMap { $0 == 0 ? nil : $0 }
        ?? UInt64(0x1000 + 0x40 * rng.below(16))
      lines.append("\(tid) init \(randomClass()) inst=0x\(String(inst, radix: 16))\(at())")
    case 96..<99:
      let start = 0x1000 + 0x20 * rng.below(20)
      lines.append("\(tid) free 0x\(String(start, radix: 16)) \(rng.below(0x200))\(at())")
    default:
      if rng.chance(50) || m.contexts.isEmpty {
        lines.append("\(tid) exit\(at())")
        m = ThreadModel()
      } else {
        lines.append("\(tid) might-sleep")
      }
    }
    if rng.chance(3) { lines.append(rng.pick(["", "# a comment", "   ", "\t# indented"])) }
    if rng.chance(2) { _ = useClass(rng.below(classCount + 3)) }  // declared, maybe never used
  }

  private static func name(_ open: Open) -> String {
    switch open {
    case .hardirq: "hardirq"
    case .softirq: "softirq"
    case .nmi: "nmi"
    }
  }

  /// A trace of about `events` events, every context closed at the end.
  mutating func text(events: Int) -> String {
    for _ in 0..<events { step() }
    for t in threads.indices {
      for open in threads[t].contexts.reversed() {
        lines.append("\(t + 1) \(Self.name(open))-exit")
      }
      for _ in 0..<threads[t].irqOff { lines.append("\(t + 1) irq-enable") }
      for _ in 0..<threads[t].bhOff { lines.append("\(t + 1) bh-enable") }
      for _ in 0..<threads[t].preemptOff { lines.append("\(t + 1) preempt-enable") }
    }
    return lines.joined(separator: "\n") + "\n"
  }
}

@Suite struct RandomTraceTests {
  static let seeds: [UInt64] = Array(1...300)
  static let batchSize = 50

  /// Runs the tool and waits at most `timeout` seconds (then kills it).
  static func run(_ arguments: [String], in dir: URL, timeout: Double) throws -> (
    status: Int32, reason: Process.TerminationReason, timedOut: Bool, stderr: String
  ) {
    let process = Process()
    process.executableURL = FixturePaths.tool
    process.arguments = arguments
    process.currentDirectoryURL = dir
    process.standardOutput = FileHandle.nullDevice
    let err = Pipe()
    process.standardError = err
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    var timedOut = false
    if done.wait(timeout: .now() + timeout) == .timedOut {
      timedOut = true
      // SIGKILL: the child may have SIGTERM blocked (the test runner's mask).
      kill(process.processIdentifier, SIGKILL)
      done.wait()
    }
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, process.terminationReason, timedOut, stderr)
  }

  /// Every random trace is reported with exit status 0 or 1: never a usage
  /// error (the traces are valid), a crash, a signal or a hang.
  @Test func randomValidTracesNeverCrash() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("random-traces-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var texts: [UInt64: String] = [:]
    for seed in Self.seeds {
      var generator = RandomTrace(seed: seed)
      let text = generator.text(events: 200 + Int(seed % 7) * 150)
      texts[seed] = text
      try Data(text.utf8).write(to: dir.appendingPathComponent("seed-\(seed).rlt"))
    }
    var shown = 0
    for start in stride(from: 0, to: Self.seeds.count, by: Self.batchSize) {
      let batch = Array(Self.seeds[start..<min(start + Self.batchSize, Self.seeds.count)])
      let files = batch.map { "seed-\($0).rlt" }
      let run = try Self.run(["report"] + files, in: dir, timeout: 120)
      if run.reason == .exit && !run.timedOut && (run.status == 0 || run.status == 1) { continue }
      // Find the seeds that fail on their own, and show them.
      for seed in batch {
        let one = try Self.run(["report", "seed-\(seed).rlt"], in: dir, timeout: 60)
        let ok = one.reason == .exit && !one.timedOut && (one.status == 0 || one.status == 1)
        if !ok { shown += 1 }
        #expect(
          ok,
          """
          seed \(seed): \(one.timedOut ? "timed out" : one.reason == .exit ? "exit status \(one.status)" : "signal \(one.status)")
          \(one.stderr.suffix(600))
          \(shown <= 3 ? "trace:\n" + texts[seed]! : "(trace not shown: regenerate it with RandomTrace(seed:))")
          """)
      }
    }
  }

  /// The generator is deterministic: a seed names one trace.
  @Test func sameSeedSameTrace() {
    var a = RandomTrace(seed: 42)
    var b = RandomTrace(seed: 42)
    var c = RandomTrace(seed: 43)
    let ta = a.text(events: 300)
    #expect(ta == b.text(events: 300))
    #expect(ta != c.text(events: 300))
  }
}
