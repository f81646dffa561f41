import Basics
import XCTest

@testable import Symbolizer

final class FormattingTests: XCTestCase {
  private let chain = SymbolizedAddress(
    address: 0x1240,
    frames: [
      Frame(
        address: 0x1240, function: "leaf_mix", file: "/src/inline.c", line: 12, column: 8,
        isInlined: true, module: "/bin/cfix", moduleOffset: 0x1240),
      Frame(
        address: 0x1240, function: "outer_work", file: "/src/inline.c", line: 25, column: 14,
        module: "/bin/cfix", moduleOffset: 0x1240),
    ])

  func testPrettyPrintText() {
    // Layout copied from `llvm-symbolizer --pretty-print --print-address`.
    XCTAssertEqual(
      FrameFormatting.text(chain, printAddress: true),
      "0x1240: leaf_mix at /src/inline.c:12:8\n (inlined by) outer_work at /src/inline.c:25:14")
  }

  func testFallbackForms() {
    let unknown = Frame(address: 0x7f00_0000_1234, module: "/lib/libfoo.so", moduleOffset: 0x1234)
    XCTAssertEqual(FrameFormatting.describe(unknown), "libfoo.so+0x1234")
    XCTAssertEqual(FrameFormatting.describe(Frame(address: 0xdead)), "0xdead")
    let generated = Frame(
      address: 1, function: "Mixer.run(count:)", file: "<compiler-generated>", line: 0,
      module: "/bin/x", moduleOffset: 1)
    XCTAssertEqual(FrameFormatting.describe(generated), "Mixer.run(count:) at <compiler-generated>")
    let symbolOnly = Frame(address: 0x10, function: "_init", module: "/bin/x", moduleOffset: 0x10)
    XCTAssertEqual(FrameFormatting.describe(symbolOnly), "_init (x+0x10)")
  }

  func testJSONOneLine() {
    XCTAssertEqual(
      FrameFormatting.json(chain),
      #"{"address": "0x1240", "frames": [{"function": "leaf_mix", "file": "/src/inline.c", "line": 12, "column": 8, "inlined": true, "module": "/bin/cfix", "offset": "0x1240"}, "#
        + #"{"function": "outer_work", "file": "/src/inline.c", "line": 25, "column": 14, "inlined": false, "module": "/bin/cfix", "offset": "0x1240"}]}"#
    )
    XCTAssertEqual(JSONText.quoted("a\"b\\c\n\u{1}"), #""a\"b\\c\n\u0001""#)
  }

  func testFilterDropsLeadingMachineryByNameOrModule() {
    func address(_ name: String, module: String = "/bin/app") -> SymbolizedAddress {
      SymbolizedAddress(
        address: 0, frames: [Frame(address: 0, function: name, linkageName: name, module: module)])
    }
    let stack = [
      address("Lockdep.Validator.acquire()"), address("x", module: "/usr/lib/libLockdep.so"),
      address("App.work()"), address("Lockdep.Validator.callback()"),
    ]
    let filter = FrameFilter(functionPrefixes: ["Lockdep."], modules: ["libLockdep.so"])
    XCTAssertEqual(
      filter.apply(stack).map { $0.frames[0].function },
      ["App.work()", "Lockdep.Validator.callback()"])
    // Machinery all the way down: kept whole rather than emptied.
    XCTAssertEqual(filter.apply(Array(stack.prefix(2))).count, 2)
  }

  /// An optimized build inlines the user's closure into the lock's
  /// `withLock`, and the lock's code into the user's function: the user's
  /// frames of such an address are kept (innermost machinery dropped, the
  /// machinery they are inlined into kept with them).
  func testFilterKeepsUserFramesInlinedIntoMachinery() {
    func frames(_ names: [String]) -> SymbolizedAddress {
      SymbolizedAddress(
        address: 0, frames: names.map { Frame(address: 0, function: $0, linkageName: $0) })
    }
    let filter = FrameFilter(functionPrefixes: ["Lockdep."])
    let stack = [
      frames(["Lockdep.Validator.acquire()"]),
      frames(["Lockdep.Lock.lock()", "closure in App.work()", "Lockdep.Lock.withLock()"]),
      frames(["App.work()"]),
    ]
    XCTAssertEqual(
      filter.apply(stack).flatMap { $0.frames.map { $0.function ?? "" } },
      ["closure in App.work()", "Lockdep.Lock.withLock()", "App.work()"])
    // The standard library's code inlined into the machinery is neither:
    // such an address is machinery; one of the standard library alone is
    // not (the run stops there).
    let inlinedLibrary = [
      frames(["$ss9UnmanagedV23_withUnsafeGuaranteedRef", "Lockdep.Live.release()"]),
      frames(["App.work()"]),
    ]
    XCTAssertEqual(filter.apply(inlinedLibrary).map { $0.frames[0].function }, ["App.work()"])
    let libraryAlone = [frames(["$sSa7forEachyyF"]), frames(["App.work()"])]
    XCTAssertEqual(filter.apply(libraryAlone).count, 2)
  }

  func testOwnMachineryIsMatchedByMangledModulePrefix() {
    func frame(_ linkage: String) -> Frame { Frame(address: 0, linkageName: linkage) }
    let own = FrameFilter.rawlockcheckMachinery
    XCTAssertTrue(own.matches(frame("$s7Lockdep8SpinLockV4lockyyF")))
    XCTAssertTrue(own.matches(frame("$s14LockdepTesting6expect4that4fileyx_s12StaticStringVtF")))
    XCTAssertTrue(own.matches(frame("rlc_frame_address")))
    // The stack capture itself: under ThreadSanitizer, whose `backtrace()`
    // interceptor adds a frame, a thread-exit report began with it (and so
    // kept the validator's frames below it).
    XCTAssertTrue(
      own.matches(
        frame("$s10Symbolizer12StackCaptureO20captureWithBacktrace4into4skipSiSrys6UInt64VG_SitFZ"))
    )
    XCTAssertFalse(
      own.matches(frame("$s10Symbolizer0A6EngineC6frames3forSayAA5FrameVGs6UInt64V_tF")))
    // A user module whose name merely starts with "Lockdep" mangles differently.
    XCTAssertFalse(own.matches(frame("$s11LockdepDemo4mainyyF")))
    XCTAssertFalse(own.matches(frame("main")))
  }
}
