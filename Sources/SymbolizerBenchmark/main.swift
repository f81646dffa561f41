// Symbolizer benchmark: throughput and agreement against llvm-symbolizer and
// binutils addr2line on the same random addresses in the same run (every tool,
// `rawlockcheck symbolize` included, as a process reading and writing files;
// our library in-process as a second figure), plus the
// in-process costs (16-frame capture, cached symbolization), each next to a
// baseline measured in the same run. Run with scripts/bench-symbolizer.sh.
// Every time is the median of --runs N (default 5) runs, taken in rounds.
// Options: --mismatches DIR (write every disagreement), --phases (split our
// time), --only TEXT, --ours-only and --repeat N (for profiling).
import Foundation
import Symbolizer

// MARK: Helpers

struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}

func now() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func which(_ tool: String) -> String? {
  for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
    let candidate = "\(directory)/\(tool)"
    if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
  }
  return nil
}

/// Runs `tool` with standard input read from the file `input` and standard
/// output written to a fresh file, as a user would at a shell; returns what
/// it wrote and the wall time from spawning to exit. Every tool, ours
/// included, is measured this way (a pipe read by this process would add the
/// cost of each tool's per-line flushes to its time).
func timed(_ tool: String, _ arguments: [String], input: String) -> (output: String, ns: UInt64) {
  let output = NSTemporaryDirectory() + "symbolizer-bench-\(getpid())-out"
  defer { unlink(output) }
  // posix_spawn, not Foundation's Process, whose own start-up costs more
  // than some of the runs being measured.
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
  let argv = ([tool] + arguments).map { strdup($0) } + [nil]
  defer { argv.forEach { free($0) } }
  var pid: pid_t = 0
  let start = now()
  guard posix_spawn(&pid, tool, &actions, nil, argv, environ) == 0 else {
    print("error: cannot run \(tool)")
    exit(2)
  }
  var status: Int32 = 0
  waitpid(pid, &status, 0)
  let ns = now() - start
  let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
  return (text, ns)
}

func run(_ tool: String, _ arguments: [String], input: String) -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: tool)
  process.arguments = arguments
  let outPipe = Pipe()
  let inPipe = Pipe()
  process.standardOutput = outPipe
  process.standardInput = inPipe
  process.standardError = FileHandle.nullDevice
  try! process.run()
  let writer = Thread {
    inPipe.fileHandleForWriting.write(input.data(using: .utf8)!)
    try? inPipe.fileHandleForWriting.close()
  }
  writer.start()
  let data = outPipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return String(decoding: data, as: UTF8.self)
}

/// Function symbols of an ELF file (nm -S), for picking code addresses.
func functions(_ path: String) -> [(start: UInt64, size: UInt64)] {
  let output = run(which("nm")!, ["-S", "--defined-only", path], input: "")
  return output.split(separator: "\n").compactMap { line in
    let f = line.split(separator: " ")
    guard f.count == 4, f[2] == "T" || f[2] == "t" || f[2] == "W" || f[2] == "i",
      let start = UInt64(f[0], radix: 16), let size = UInt64(f[1], radix: 16), size > 0
    else { return nil }
    return (start, size)
  }
}

func baseName(_ path: Substring) -> Substring { path.split(separator: "/").last ?? path }

/// llvm-symbolizer output (`name\nfile:line:col\n` per level, blank line
/// between addresses) as chains of "name@basename:line".
func parseLLVM(_ output: String) -> [[String]] {
  var chains: [[String]] = []
  var current: [String] = []
  var name: Substring?
  for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
    if line.isEmpty {
      if !current.isEmpty { chains.append(current) }
      current = []
      name = nil
    } else if let pending = name {
      let parts = line.split(separator: ":", omittingEmptySubsequences: false)
      let file = parts.count >= 3 ? parts[parts.count - 3] : parts[0]
      let number = parts.count >= 3 ? parts[parts.count - 2] : "0"
      current.append("\(pending)@\(baseName(file)):\(number)")
      name = nil
    } else {
      name = line
    }
  }
  return chains
}

func ours(_ frames: [Frame]) -> [String] {
  frames.map { frame in
    let file = frame.file.map { baseName(Substring($0)) } ?? "??"
    return "\(frame.linkageName ?? "??")@\(file):\(frame.line)"
  }
}

func rate(_ count: Int, _ nanoseconds: UInt64) -> Double {
  Double(count) / (Double(nanoseconds) / 1e9)
}

func fmt(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

// MARK: Offline throughput and agreement

/// The value after `--name` on the command line; exits with status 2 when
/// the flag is given without one.
func option(_ name: String) -> String? {
  let arguments = CommandLine.arguments
  guard let flag = arguments.firstIndex(of: name) else { return nil }
  guard flag + 1 < arguments.count else {
    print("error: \(name) needs a value")
    exit(2)
  }
  return arguments[flag + 1]
}

let count = 10_000
/// `--mismatches DIR` writes every disagreement, one file per binary.
let mismatchDirectory = option("--mismatches")
/// `--only TEXT` measures only the binaries whose label contains TEXT.
let onlyTarget = option("--only")
/// `--repeat N` (profiling): each binary is symbolized cold N-1 more times first.
let repeatCount: Int = {
  guard let text = option("--repeat") else { return 1 }
  guard let value = Int(text), value >= 1 else {
    print("error: --repeat needs a positive count, got \(text)")
    exit(2)
  }
  return value
}()
/// `--runs N`: every tool, and the library, is timed N times (in rounds, so
/// a slow spell of this shared machine hits all of them) and the median is
/// reported.
let runs: Int = {
  guard let text = option("--runs") else { return 5 }
  guard let value = Int(text), value >= 1 else {
    print("error: --runs needs a positive count, got \(text)")
    exit(2)
  }
  return value
}()
func median(_ values: [UInt64]) -> UInt64 { values.sorted()[values.count / 2] }
let llvmSymbolizer: String? = {
  guard let swift = which("swift") else { return nil }
  let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent()
  let path = real.appendingPathComponent("llvm-symbolizer").path
  return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}()
guard let llvmSymbolizer, let addr2line = which("addr2line") else {
  print("error: needs llvm-symbolizer (Swift toolchain) and addr2line (binutils)")
  exit(2)
}

let libc = ProcessModules.current().first { $0.path.hasSuffix("/libc.so.6") }!
let libcSymbols: String = {
  guard let hex = libc.buildIDHex else { return libc.path }
  let debug = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
  return FileManager.default.fileExists(atPath: debug) ? debug : libc.path
}()
let selfPath = ProcessModules.executablePath()
/// The command-line tool, built next to this benchmark (scripts/bench-symbolizer.sh).
let rawlockcheck: String? = {
  let path = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
    .appendingPathComponent("rawlockcheck").path
  return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}()
let targets: [(label: String, object: String, symbols: String)] = [
  ("libc.so.6 (libc6-dbg DWARF)", libc.path, libcSymbols),
  ("Swift -O -g (this benchmark)", selfPath, selfPath),
]

var rng = SplitMix64(state: 0x5eed)
var totalAgree = 0
var totalCompared = 0
print(
  "Symbolizer benchmark: \(count) random code addresses per binary, cold start each run, "
    + "median of \(runs) runs")
print("")
for target in targets where onlyTarget.map({ target.label.contains($0) }) ?? true {
  let funcs = functions(target.symbols)
  var addresses: [UInt64] = []
  addresses.reserveCapacity(count)
  for _ in 0..<count {
    let f = funcs[Int(rng.next() % UInt64(funcs.count))]
    addresses.append(f.start + rng.next() % f.size)
  }
  let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"

  for _ in 1..<repeatCount {
    let symbolizer = Symbolizer(executable: target.object)
    for address in addresses { blackHole(symbolizer.symbolize(address)) }
  }
  var results: [[Frame]] = []
  var libraryTimes: [UInt64] = []
  var initNs: UInt64 = 0
  var firstNs: UInt64 = 0
  for run in 0..<runs {
    let t0 = now()
    let symbolizer = Symbolizer(executable: target.object)
    var frames: [[Frame]] = []
    frames.reserveCapacity(count)
    initNs = now() - t0
    frames.append(symbolizer.symbolize(addresses[0]).frames)
    firstNs = now() - t0 - initNs
    for address in addresses.dropFirst() { frames.append(symbolizer.symbolize(address).frames) }
    libraryTimes.append(now() - t0)
    if run == 0 { results = frames }
  }
  let oursNs = median(libraryTimes)
  if CommandLine.arguments.contains("--phases") {
    print(
      "  phases: open \(initNs / 1000) us, first address \(firstNs / 1000) us, "
        + "the rest \((oursNs - initNs - firstNs) / 1000) us")
  }
  if CommandLine.arguments.contains("--ours-only") {
    print("\(target.label): \(fmt(rate(count, oursNs), 0)) addresses/s")
    continue
  }

  let inputFile = NSTemporaryDirectory() + "symbolizer-bench-\(getpid())-in"
  _ = FileManager.default.createFile(atPath: inputFile, contents: Data(input.utf8))
  defer { try? FileManager.default.removeItem(atPath: inputFile) }
  var llvmOut = ""
  var llvmTimes: [UInt64] = []
  var a2lTimes: [UInt64] = []
  var cliTimes: [UInt64] = []
  for _ in 0..<runs {
    let llvm = timed(
      llvmSymbolizer,
      ["--obj=" + target.object, "--inlining", "--functions=linkage", "--no-demangle"],
      input: inputFile)
    llvmOut = llvm.output
    llvmTimes.append(llvm.ns)
    a2lTimes.append(timed(addr2line, ["-i", "-f", "-C", "-e", target.object], input: inputFile).ns)
    // Our command line: text like llvm-symbolizer --pretty-print, names demangled.
    if let rawlockcheck {
      cliTimes.append(
        timed(rawlockcheck, ["symbolize", "--exe", target.object], input: inputFile).ns)
    }
  }
  let llvmNs = median(llvmTimes)
  let a2lNs = median(a2lTimes)
  let cliNs = cliTimes.isEmpty ? nil : median(cliTimes)

  let oracle = parseLLVM(llvmOut)
  var agree = 0
  var examples: [String] = []
  var mismatches = ""
  for (index, frames) in results.enumerated() where index < oracle.count {
    if ours(frames) == oracle[index] {
      agree += 1
    } else {
      let line =
        "0x\(String(addresses[index], radix: 16)): ours \(ours(frames)) llvm \(oracle[index])"
      if examples.count < 3 { examples.append("  " + line) }
      mismatches += line + "\n"
    }
  }
  if let mismatchDirectory {
    let file = "\(mismatchDirectory)/\(baseName(Substring(target.object))).txt"
    _ = FileManager.default.createFile(atPath: file, contents: Data(mismatches.utf8))
  }
  totalAgree += agree
  totalCompared += count
  let oursRate = rate(count, oursNs)
  let faster = max(rate(count, llvmNs), rate(count, a2lNs))
  print("== \(target.label)")
  print("  processes, input and output in files, wall time from spawn to exit:")
  if let cliNs {
    print("    rawlockcheck symbolize   : \(fmt(rate(count, cliNs), 0)) addresses/s")
  } else {
    print("    rawlockcheck symbolize   : not built next to this benchmark")
  }
  print("    llvm-symbolizer          : \(fmt(rate(count, llvmNs), 0)) addresses/s")
  print("    addr2line -i -f -C       : \(fmt(rate(count, a2lNs), 0)) addresses/s")
  if let cliNs {
    print("    ratio vs faster tool     : \(fmt(rate(count, cliNs) / faster, 2))x (target >= 2x)")
  }
  print(
    "  in-process library (no process start, no output): \(fmt(oursRate, 0)) addresses/s, "
      + "\(fmt(oursRate / faster, 2))x the faster tool's process")
  print(
    "  agreement with llvm-symbolizer (full inline chain, name + basename:line): "
      + "\(agree)/\(count) = \(fmt(100 * Double(agree) / Double(count), 2))%")
  if oracle.count != count {
    print("  warning: llvm-symbolizer answered \(oracle.count) addresses")
  }
  for example in examples { print(example) }
  print("")
}
if CommandLine.arguments.contains("--ours-only") { exit(0) }
if totalCompared > 0 {
  print(
    "Overall agreement: \(fmt(100 * Double(totalAgree) / Double(totalCompared), 2))% "
      + "(target >= 99%)")
} else if let onlyTarget {
  print("No binary's label contains \"\(onlyTarget)\" (labels: \(targets.map(\.label)))")
}
print("")

// MARK: In-process costs

@inline(never)
func recurse(_ depth: Int, _ body: () -> Void) {
  if depth == 0 { body() } else { recurse(depth - 1, body) }
  blackHole(depth)
}
@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

let iterations = 1_000_000
var buffer = [UInt64](repeating: 0, count: 16)
var captureNs: UInt64 = 0
var backtraceNs: UInt64 = 0
var captured = 0
recurse(24) {
  buffer.withUnsafeMutableBufferPointer { out in
    _ = StackCapture.capture(into: out)  // warm the per-thread bounds
    var t = now()
    for _ in 0..<iterations { captured &+= StackCapture.capture(into: out) }
    captureNs = now() - t
    t = now()
    for _ in 0..<(iterations / 10) { captured &+= StackCapture.captureWithBacktrace(into: out) }
    backtraceNs = (now() - t) * 10
  }
}
let capturePer = Double(captureNs) / Double(iterations)
let backtracePer = Double(backtraceNs) / Double(iterations)
print("== In-process")
print(
  "  16-frame capture (frame pointers): \(fmt(capturePer)) ns (target < 100 ns); "
    + "backtrace() baseline: \(fmt(backtracePer)) ns; ratio \(fmt(backtracePer / capturePer, 1))x faster"
)

var stack = [UInt64](repeating: 0, count: 16)
var depthCaptured = 0
recurse(12) {
  depthCaptured = stack.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0) }
}
let live = Symbolizer.inProcess()
let frames = Array(stack[..<depthCaptured])
var t = now()
let first = live.symbolize(stack: frames)
let coldNs = now() - t
let rounds = 20_000
t = now()
var sink = 0
for _ in 0..<rounds { sink &+= live.symbolize(stack: frames).count }
let warmNs = now() - t
let perFrameWarm = Double(warmNs) / Double(rounds * frames.count)
let perFrameCold = Double(coldNs) / Double(frames.count)
print(
  "  cached symbolization: \(fmt(perFrameWarm)) ns/frame (target < 1000 ns); "
    + "first (uncached, incl. DWARF indexing) baseline: \(fmt(perFrameCold, 0)) ns/frame; "
    + "ratio \(fmt(perFrameCold / perFrameWarm, 0))x")
print("  sample stack:")
for symbolized in first.prefix(4) { print("    " + FrameFormatting.text(symbolized)) }
blackHole(captured &+ sink)
