// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// Linker flags that make release builds take the C++ runtime (which the
/// static Swift runtime uses) from GCC's `libstdc++.a` instead of loading
/// `libstdc++.so`: loading and binding that library (some 4,300 symbol
/// relocations) was 0.2 ms of the 1.7 ms a `symbolize` process needs to
/// start. The driver always asks for `-lstdc++`; the linker script under
/// `Linker/static-libstdc++` answers that name with the archive, which the
/// linker finds in the GCC directory clang already searches. Without the
/// archive (no `libstdc++-N-dev`), nothing changes.
let staticCxxFlags: [String] = {
  let gcc = "/usr/lib/gcc"
  let files = FileManager.default
  let hasArchive = ((try? files.subpathsOfDirectory(atPath: gcc)) ?? []).contains {
    $0.hasSuffix("/libstdc++.a")
  }
  return hasArchive ? ["-L", Context.packageDirectory + "/Linker/static-libstdc++"] : []
}()

let package = Package(
  name: "rawlockcheck",
  products: [
    .executable(name: "rawlockcheck", targets: ["rawlockcheck"]),
    .library(name: "Basics", targets: ["Basics"]),
    .library(name: "WaitContext", targets: ["WaitContext"]),
    .library(name: "LockGraph", targets: ["LockGraph"]),
    .library(name: "Trace", targets: ["Trace"]),
    .library(name: "Report", targets: ["Report"]),
    .library(name: "Lockdep", targets: ["Lockdep"]),
    .library(name: "LockdepTesting", targets: ["LockdepTesting"]),
    .library(name: "RCU", targets: ["RCU"]),
    .library(name: "Symbolizer", targets: ["Symbolizer"]),
    .library(name: "Allocator", targets: ["Allocator"]),
  ],
  traits: [
    .trait(
      name: "Validation",
      description:
        "Keep lock validation in optimized builds: RawSpinLock, Mutex and the other default lock types name the validated Checked types in every configuration, not only in debug builds."
    )
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // What several targets share: module records, frame text, hex and JSON text, number parsing.
    .target(name: "Basics"),
    // Wait types, lock kinds, execution contexts and the wait-context rule.
    .target(name: "WaitContext", dependencies: ["Basics"]),
    // The validator engine: classes, held locks, the dependency graph, every check.
    .target(name: "LockGraph", dependencies: ["Basics", "WaitContext"]),
    // Reading and writing traces.
    .target(name: "Trace", dependencies: ["Basics", "LockGraph", "WaitContext"]),
    // Findings as text (lockdep's layout) and JSON, frames through the symbolizer.
    .target(name: "Report", dependencies: ["Basics", "LockGraph", "WaitContext", "Symbolizer"]),
    // Per-thread storage, signal fence and spin hint for Lockdep (C: Swift cannot say them).
    .target(name: "CLockdepSupport"),
    // What a program imports: instrumented locks, context markers, the live validator.
    .target(
      name: "Lockdep",
      dependencies: [
        "Basics", "CLockdepSupport", "LockGraph", "WaitContext", "Report", "Symbolizer", "Trace",
      ]),
    // Lock validation in test suites: a Swift Testing trait, XCTest assertions.
    .target(name: "LockdepTesting", dependencies: ["Basics", "Lockdep", "LockGraph"]),
    // The live validator's cost against bare locks (scripts/bench-live.sh).
    .executableTarget(name: "LockdepBenchmark", dependencies: ["Lockdep", "Symbolizer"]),
    // Causes each kind of finding live, for the recorder's tests.
    .executableTarget(
      name: "LockdepProbe",
      dependencies: ["Allocator", "Basics", "Lockdep", "LockGraph", "RCU", "CAllocationCounter"]),
    // A page allocator and kmalloc over an mmap'd arena, built from the validated locks.
    .target(name: "Allocator", dependencies: ["Lockdep", "WaitContext"]),
    // The RCU read side's per-thread record, its fences and membarrier (C: Swift cannot say them).
    .target(name: "CRCUSupport"),
    // Read sections, grace periods, callRCU, rcuBarrier and kvfreeRCU over the allocator.
    .target(
      name: "RCU",
      dependencies: [
        "Basics", "CRCUSupport", "CLockdepSupport", "Lockdep", "Allocator", "WaitContext",
      ]),
    // The read side's cost per section, against a thread-local counter baseline.
    .executableTarget(name: "RCUBenchmark", dependencies: ["RCU", "Lockdep", "CRCUSupport"]),
    // kvfreeRCU's flood test, free walk and liburcu comparison (scripts/bench-rcu.sh).
    .executableTarget(
      name: "KvfreeBenchmark", dependencies: ["Basics", "RCU", "Allocator", "Lockdep"]),
    // The command-line tool.
    .executableTarget(
      name: "rawlockcheck",
      dependencies: [
        "Basics", "Trace", "LockGraph", "WaitContext", "Symbolizer", "Report",
        // `rawlockcheck demo`: the seed scenario in-process (Sources/rawlockcheck/Demo).
        "Lockdep", "Allocator", "RCU",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      // Release builds carry the Swift runtime (and the FoundationEssentials
      // ArgumentParser uses) inside the binary: it runs where no toolchain
      // is installed, and starts about 1 ms sooner (no loading and binding
      // of a dozen Swift libraries), which is most of a `symbolize` run. The
      // C++ runtime too, where it can (`staticCxxFlags`).
      linkerSettings: [
        .unsafeFlags(["-static-stdlib"] + staticCxxFlags, .when(configuration: .release)),
        .linkedLibrary("_FoundationCollections", .when(configuration: .release)),
        .linkedLibrary("_FoundationCShims", .when(configuration: .release)),
      ]
    ),
    // elfutils (libdw, libdwfl, libelf) and the few C declarations Swift cannot reach.
    .systemLibrary(name: "CElfutils", path: "Sources/CElfutils"),
    // Addresses to frames: stack capture, module map, DWARF index, demangling.
    .target(name: "Symbolizer", dependencies: ["Basics", "CElfutils"]),
    // Throughput and agreement against llvm-symbolizer and addr2line.
    .executableTarget(name: "SymbolizerBenchmark", dependencies: ["Symbolizer"]),
    .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
    .testTarget(name: "SymbolizerTests", dependencies: ["Symbolizer", "Basics", "CElfutils"]),
    // Counts a thread's heap allocations (the test executable's malloc, interposed).
    .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
    .testTarget(
      name: "LockdepTests",
      dependencies: [
        "Basics", "Lockdep", "LockdepTesting", "LockGraph", "WaitContext", "Trace",
        "Symbolizer", "CAllocationCounter",
      ]),
    .testTarget(name: "WaitContextTests", dependencies: ["WaitContext"]),
    .testTarget(name: "LockGraphTests", dependencies: ["Basics", "LockGraph", "WaitContext"]),
    .testTarget(name: "TraceTests", dependencies: ["Trace", "LockGraph", "WaitContext", "Basics"]),
    .testTarget(
      name: "AllocatorTests", dependencies: ["Basics", "Allocator", "Lockdep", "LockGraph"]),
    .testTarget(
      name: "RCUTests",
      dependencies: ["Basics", "RCU", "Allocator", "Lockdep", "LockGraph", "CAllocationCounter"]),
    .testTarget(
      name: "RawLockCheckTests",
      dependencies: [
        "rawlockcheck", "Trace", "LockGraph", "Report", "WaitContext", "Symbolizer", "Basics",
        "RCU", "Allocator",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
