// swift-tools-version: 6.1
// A user's package that keeps validation in optimized builds: it enables
// rawlockcheck's `Validation` trait, so `swift test -c release` (which
// builds with `-O -enable-testing`) validates every lock. The project's
// test command runs it, so every lock type's code must build that way.
import PackageDescription

let package = Package(
  name: "ValidatedRelease",
  dependencies: [
    .package(name: "rawlockcheck", path: "../..", traits: ["Validation"])
  ],
  targets: [
    .target(
      name: "Devices",
      dependencies: [.product(name: "Lockdep", package: "rawlockcheck")]),
    .testTarget(
      name: "DevicesTests",
      dependencies: [
        "Devices",
        .product(name: "Lockdep", package: "rawlockcheck"),
        .product(name: "LockdepTesting", package: "rawlockcheck"),
      ]),
  ],
  swiftLanguageModes: [.v6]
)
