// swift-tools-version: 6.1
// A user's package that depends on rawlockcheck by path: `Lockdep` in a
// library and an executable, `LockdepTesting` in its tests. The project's
// test command builds and tests it, so no product a user imports may carry
// unsafe flags.
import PackageDescription

let package = Package(
  name: "LockdepExample",
  dependencies: [
    .package(name: "rawlockcheck", path: "..")
  ],
  targets: [
    .target(
      name: "WorkQueue",
      dependencies: [.product(name: "Lockdep", package: "rawlockcheck")]),
    // Builds in debug and release alike: the two lock families mixed.
    .target(
      name: "BuildsEverywhere",
      dependencies: [.product(name: "Lockdep", package: "rawlockcheck")]),
    .executableTarget(
      name: "work-queue",
      dependencies: ["WorkQueue", .product(name: "Lockdep", package: "rawlockcheck")]),
    .testTarget(
      name: "WorkQueueTests",
      dependencies: [
        "WorkQueue",
        .product(name: "Lockdep", package: "rawlockcheck"),
        .product(name: "LockdepTesting", package: "rawlockcheck"),
      ]),
  ],
  swiftLanguageModes: [.v6]
)
