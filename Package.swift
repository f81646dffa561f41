// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "rawlockcheck",
  products: [
    .executable(name: "rawlockcheck", targets: ["rawlockcheck"]),
    .library(name: "WaitContext", targets: ["WaitContext"]),
    .library(name: "LockGraph", targets: ["LockGraph"]),
    .library(name: "Trace", targets: ["Trace"]),
    .library(name: "Symbolizer", targets: ["Symbolizer"]),
    .executable(name: "SymbolizerBenchmark", targets: ["SymbolizerBenchmark"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // Wait types, lock kinds, execution contexts and the wait-context rule.
    .target(name: "WaitContext"),
    // The validator engine: classes, held locks, the dependency graph, every check.
    .target(name: "LockGraph", dependencies: ["WaitContext"]),
    // Reading and writing traces.
    .target(name: "Trace", dependencies: ["LockGraph", "WaitContext"]),
    // The command-line tool.
    .executableTarget(
      name: "rawlockcheck",
      dependencies: [
        "Trace", "LockGraph", "WaitContext",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // elfutils (libdw, libdwfl, libelf) and the few C declarations Swift cannot reach.
    .systemLibrary(name: "CElfutils", path: "Sources/CElfutils"),
    // Addresses to frames: stack capture, module map, DWARF index, demangling.
    .target(name: "Symbolizer", dependencies: ["CElfutils"]),
    // Throughput and agreement against llvm-symbolizer and addr2line.
    .executableTarget(name: "SymbolizerBenchmark", dependencies: ["Symbolizer"]),
    .testTarget(name: "SymbolizerTests", dependencies: ["Symbolizer"]),
    .testTarget(name: "WaitContextTests", dependencies: ["WaitContext"]),
    .testTarget(name: "LockGraphTests", dependencies: ["LockGraph", "WaitContext"]),
    .testTarget(name: "TraceTests", dependencies: ["Trace", "LockGraph"]),
    .testTarget(
      name: "RawLockCheckTests",
      dependencies: ["rawlockcheck", "Trace", "LockGraph"]
    ),
  ],
  swiftLanguageModes: [.v6]
)

// Branch-local guard: on a branch that does not (yet) contain every target
// folder named above, drop the targets whose folder is missing, and everything
// that depends on them, so the remaining targets still build and test. A no-op
// once every folder exists.
import Foundation

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
func targetFolder(_ target: Target) -> String {
  target.path ?? ((target.type == .test ? "Tests/" : "Sources/") + target.name)
}
var missingTargets = Set(
  package.targets
    .filter { !FileManager.default.fileExists(atPath: packageRoot + "/" + targetFolder($0)) }
    .map(\.name)
)
if !missingTargets.isEmpty {
  var changed = true
  while changed {
    changed = false
    for target in package.targets where !missingTargets.contains(target.name) {
      let needsMissing = target.dependencies.contains { dependency in
        switch dependency {
        case .targetItem(let name, _), .byNameItem(let name, _): return missingTargets.contains(name)
        default: return false
        }
      }
      if needsMissing {
        missingTargets.insert(target.name)
        changed = true
      }
    }
  }
  package.targets.removeAll { missingTargets.contains($0.name) }
  package.products.removeAll { product in
    switch product {
    case let library as Product.Library: return library.targets.contains(where: missingTargets.contains)
    case let executable as Product.Executable:
      return executable.targets.contains(where: missingTargets.contains)
    default: return false
    }
  }
}
