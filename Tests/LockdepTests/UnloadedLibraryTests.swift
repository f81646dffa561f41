import Foundation
import LockGraph
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A stack captured in a library that was unloaded (`dlclose`) before the
/// report, and the same place in another library loaded after it (where
/// the loader often maps it at the same addresses), are each named from
/// their own library: live stacks are symbolized from the mappings they
/// were captured under once an object was unloaded (`LiveStacks`). The
/// first printed as addresses, or as the second library's functions.
@Suite struct UnloadedLibraryTests {
  static let first = Checked.Mutex(name: "&unloaded->first")
  static let second = Checked.Mutex(name: "&unloaded->second")

  typealias Entry = @convention(c) (@convention(c) () -> Void) -> Void

  /// `lib<name>.so`, whose `entry_<name>(cb)` calls `cb` (and is no tail
  /// call: its frame is on the stack `cb` captures).
  static func library(_ name: String, in directory: URL) throws -> String? {
    guard
      let gcc = ["/usr/bin/gcc", "/usr/bin/cc"].first(where: FileManager.default.isExecutableFile)
    else { return nil }
    let source = directory.appendingPathComponent("\(name).c")
    try Data(
      """
      volatile int sink_\(name);
      void entry_\(name)(void (*cb)(void)) {
        cb();
        sink_\(name)++;
      }

      """.utf8
    ).write(to: source)
    let library = directory.appendingPathComponent("lib\(name).so").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: gcc)
    build.arguments = [
      "-g", "-O1", "-fPIC", "-shared", "-fno-omit-frame-pointer", source.path, "-o", library,
    ]
    try build.run()
    build.waitUntilExit()
    #expect(build.terminationStatus == 0)
    return library
  }

  /// Loads `path`, calls its `entry_<name>` with `callback`, unloads it.
  static func call(_ path: String, _ name: String, _ callback: @convention(c) () -> Void) {
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      Issue.record("dlopen \(path): \(String(cString: dlerror()))")
      return
    }
    let entry = unsafeBitCast(dlsym(handle, "entry_\(name)"), to: Entry.self)
    entry(callback)
    dlclose(handle)
  }

  @Test func stacksOfUnloadedLibrariesAreNamedFromThem() throws {
    LockValidation.policy = .collect
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("unloaded-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    guard let a = try Self.library("a", in: directory),
      let b = try Self.library("b", in: directory)
    else { return }
    let scope = LockValidationScope()
    pthread_join(
      spawn {
        scope.run {
          Self.call(a, "a") {
            UnloadedLibraryTests.first.lock()
            UnloadedLibraryTests.second.lock()
            UnloadedLibraryTests.second.unlock()
            UnloadedLibraryTests.first.unlock()
          }
          Self.call(b, "b") {
            UnloadedLibraryTests.second.lock()
            UnloadedLibraryTests.first.lock()
            UnloadedLibraryTests.first.unlock()
            UnloadedLibraryTests.second.unlock()
          }
        }
      }, nil)
    let cycle = try #require(scope.findings.first { $0.finding.kind == .circularDependency })
    let text = LiveValidator.shared.render(cycle.finding)
    // The dependency first -> second was taken in liba, the acquisition
    // that closes the cycle in libb.
    #expect(text.contains("entry_a"), "\(text)")
    #expect(text.contains("entry_b"), "\(text)")
    #expect(text.contains("a.c:3"), "\(text)")
  }
}
