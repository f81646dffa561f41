import Basics
import CElfutils
import Foundation
import XCTest

@testable import Symbolizer

/// Whether `rlc_read_frame` copies the frame record at `address`.
private func canRead(_ address: UInt) -> Bool {
  var record: (UInt, UInt) = (0, 0)
  return withUnsafeMutableBytes(of: &record) { rlc_read_frame(address, $0.baseAddress!) != 0 }
}

/// What `stackTopOnThisThread` found on its thread.
private let ownStackTop = PThreadMutex<(frame: UInt, top: UInt)?>(nil)

/// A thread's body that notes its frame and the stack top found without
/// allocating.
private func stackTopOnThisThread(_: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  let fp = UInt(bitPattern: rlc_frame_address())
  ownStackTop.withLock { $0 = (fp, rlc_stack_top_without_allocating(fp)) }
  return nil
}

final class InProcessTests: XCTestCase {
  /// One call site for both capture methods, so that from frame 1 on (the
  /// return into the caller of this helper) the two stacks must be equal.
  @inline(never)
  private func captureVia(
    framePointers: Bool, skip: Int, into buffer: UnsafeMutableBufferPointer<UInt64>
  )
    -> Int
  {
    framePointers
      ? StackCapture.capture(into: buffer, skip: skip)
      : StackCapture.captureWithBacktrace(into: buffer, skip: skip)
  }

  @inline(never)
  private func captureAll(framePointers: [Bool], skips: [Int]) -> [[UInt64]] {
    var stacks: [[UInt64]] = []
    for (mode, skip) in zip(framePointers, skips) {
      var buffer = [UInt64](repeating: 0, count: 64)
      let count = buffer.withUnsafeMutableBufferPointer {
        captureVia(framePointers: mode, skip: skip, into: $0)
      }
      stacks.append(Array(buffer[..<count]))
    }
    return stacks
  }

  /// A signal handler's caller is the trampoline the kernel returns into,
  /// `__restore_rt`, whose first byte is the return address, with no call
  /// before it: as a return address it is named, not left an address (one
  /// byte back is padding). glibc sets it as `sa_restorer`.
  func testTheSignalTrampolineIsNamedAsAReturnAddress() throws {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in }
    var old = sigaction()
    XCTAssertEqual(sigaction(SIGUSR2, &action, &old), 0)
    var installed = sigaction()
    XCTAssertEqual(sigaction(SIGUSR2, &old, &installed), 0)
    let restorer = try XCTUnwrap(installed.sa_restorer)
    let address = UInt64(UInt(bitPattern: unsafeBitCast(restorer, to: UnsafeRawPointer.self)))
    let symbolizer = Symbolizer.inProcess()
    let name = symbolizer.symbolize(address).frames.first?.function
    XCTAssertEqual(name, "__restore_rt")
    XCTAssertEqual(
      symbolizer.symbolize(address, isReturnAddress: true).frames.first?.function, name)
  }

  /// The frame-pointer walk sees the same callers as the DWARF unwinder
  /// (`backtrace()`): frame 0 differs (two call sites in `captureVia`), and
  /// from frame 1 on the return addresses must be equal as long as both go.
  func testFramePointerWalkMatchesBacktrace() {
    let stacks = captureAll(framePointers: [true, false], skips: [0, 0])
    let (fp, bt) = (stacks[0], stacks[1])
    XCTAssertGreaterThanOrEqual(fp.count, 5, "frame-pointer walk stopped early: \(fp)")
    let common = min(fp.count, bt.count)
    XCTAssertGreaterThanOrEqual(common, 5)
    XCTAssertEqual(Array(fp[1..<common]), Array(bt[1..<common]))
    XCTAssertNotEqual(fp[0], bt[0])
  }

  func testCaptureRespectsBufferSizeAndSkip() {
    var small = [UInt64](repeating: 0, count: 2)
    let count = small.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0) }
    XCTAssertEqual(count, 2)
    let stacks = captureAll(framePointers: [true, true], skips: [0, 1])
    XCTAssertEqual(stacks[1].count, stacks[0].count - 1)
    XCTAssertEqual(Array(stacks[0].dropFirst()), stacks[1])
  }

  /// The capture of a thread that never computed its stack bounds (a
  /// signal handler's, which must not allocate) walks as far as the
  /// capture that computes them: between the current frame and the top
  /// of the thread's stack. It was one frame, or none, before.
  func testCaptureWithoutAllocatingOnAFreshThreadWalksTheWholeStack() throws {
    let here = UInt(bitPattern: rlc_frame_address())
    try XCTSkipIf(!canRead(here), "process_vm_readv is refused here (seccomp)")
    let result = PThreadMutex<(cachedBefore: Bool, fresh: [UInt64], computed: [UInt64])?>(nil)
    SpawnedThread {
      let cachedBefore = ThreadStackBounds.cached() != nil
      var stacks: [[UInt64]] = []
      for withoutAllocating in [true, false] {
        var buffer = [UInt64](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBufferPointer {
          withoutAllocating
            ? StackCapture.captureWithoutAllocating(into: $0)
            : StackCapture.capture(into: $0)
        }
        stacks.append(Array(buffer[..<count]))
      }
      result.withLock { $0 = (cachedBefore, stacks[0], stacks[1]) }
    }.join()
    let got = result.withLock { $0 }
    XCTAssertEqual(got?.cachedBefore, false)
    // The two calls differ in their first frame (two call sites); the
    // thread's start is beyond both.
    XCTAssertGreaterThan(got?.fresh.count ?? 0, 2)
    XCTAssertEqual(got?.fresh.dropFirst(), got?.computed.dropFirst())
  }

  /// The stack top found without allocating lies between the current
  /// frame and the top of the bounds `pthread_getattr_np` gives, on the
  /// main thread (`__libc_stack_end`) and on another (its descriptor).
  func testStackTopWithoutAllocatingLiesWithinTheThreadsStack() {
    @Sendable func check() -> (frame: UInt, top: UInt, high: UInt) {
      let fp = UInt(bitPattern: rlc_frame_address())
      return (fp, rlc_stack_top_without_allocating(fp), ThreadStackBounds.current().high)
    }
    XCTAssertTrue(Thread.isMainThread, "XCTest runs its tests on the main thread")
    let main = check()
    let other = PThreadMutex<(frame: UInt, top: UInt, high: UInt)?>(nil)
    SpawnedThread { other.withLock { $0 = check() } }.join()
    // A thread on a stack the program gave it (`pthread_attr_setstack`).
    let size = 256 * 1024
    let stack = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    defer { stack.deallocate() }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstack(&attr, stack, size)
    var handle = pthread_t()
    XCTAssertEqual(pthread_create(&handle, &attr, stackTopOnThisThread, nil), 0)
    pthread_join(handle, nil)
    let own = ownStackTop.withLock { $0 }
    let low = UInt(bitPattern: stack)
    XCTAssertTrue(
      own.map { $0.frame > low && $0.top > $0.frame && $0.top <= low + UInt(size) } ?? false,
      "\(String(describing: own))")
    for got in [main, other.withLock { $0 } ?? (frame: 1, top: 0, high: 0)] {
      XCTAssertGreaterThan(got.top, got.frame, "\(got)")
      XCTAssertLessThanOrEqual(got.top, got.high, "\(got)")
    }
  }

  /// A checked walk (a frame that may not be on the stack whose top
  /// bounds it) has the kernel copy each frame record: a chain into a
  /// guard page (PROT_NONE) within the bounds ends there instead of
  /// faulting, as does one into a hole.
  func testACheckedWalkStopsAtAGuardPageWithinItsBounds() throws {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let raw = try XCTUnwrap(
      mmap(nil, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    defer { munmap(raw, 3 * page) }
    try XCTSkipIf(!canRead(UInt(bitPattern: raw)), "process_vm_readv is refused here")
    XCTAssertEqual(mprotect(raw + page, page, PROT_NONE), 0)
    let low = UInt(bitPattern: raw)
    let bounds = ThreadStackBounds(low: low, high: low + UInt(3 * page))
    XCTAssertFalse(canRead(low + UInt(page) + 16))
    XCTAssertTrue(canRead(low + UInt(2 * page)))
    // Frame records: the first links to the second, which links into the
    // guard page (the rbp of code built without frame pointers may be any
    // number).
    let words = raw.assumingMemoryBound(to: UInt.self)
    words[0] = low + 64
    words[1] = 0x1111
    words[8] = low + UInt(page) + 16
    words[9] = 0x2222
    var record: (UInt, UInt) = (0, 0)
    XCTAssertEqual(
      withUnsafeMutableBytes(of: &record) { rlc_read_frame(low + 64, $0.baseAddress!) }, 1)
    XCTAssertTrue(record == (low + UInt(page) + 16, 0x2222), "\(record)")
    var buffer = [UInt64](repeating: 0, count: 8)
    let count = buffer.withUnsafeMutableBufferPointer {
      StackCapture.walk(from: low, within: bounds, into: $0, skip: 0, checked: true)
    }
    XCTAssertEqual(Array(buffer[..<count]), [0x1111, 0x2222])
    // A link into a hole (a page unmapped): the same.
    XCTAssertEqual(munmap(raw + 2 * page, page), 0)
    XCTAssertFalse(canRead(low + UInt(2 * page)))
    words[8] = low + UInt(2 * page)
    let hole = buffer.withUnsafeMutableBufferPointer {
      StackCapture.walk(from: low, within: bounds, into: $0, skip: 0, checked: true)
    }
    XCTAssertEqual(hole, 2)
    XCTAssertFalse(canRead(0))
  }

  /// Unknown bounds (`high` 0) contain no frame: the walk must not take
  /// the whole address space for a stack.
  func testUnknownStackBoundsContainNoFrame() {
    let unknown = ThreadStackBounds(low: 0, high: 0)
    XCTAssertFalse(unknown.contains(frame: 0x1000))
    XCTAssertFalse(unknown.contains(frame: UInt(bitPattern: rlc_frame_address())))
    XCTAssertFalse(ThreadStackBounds(low: 0x1000, high: 8).contains(frame: 0))
  }

  /// A capture given a return address starts at the frame that returns
  /// there, whatever frames of the capturing code lie above it.
  func testCaptureFromAReturnAddressStartsThere() {
    @inline(never)
    func deeper(_ ip: UInt64) -> [UInt64] {
      var buffer = [UInt64](repeating: 0, count: 64)
      let count = buffer.withUnsafeMutableBufferPointer {
        StackCapture.capture(into: $0, from: ip)
      }
      return Array(buffer[..<count])
    }
    var stacks: [[UInt64]] = []
    // One call site for both: the second starts at the return into this
    // test that the first found one frame below its own.
    for round in 0..<2 { stacks.append(deeper(round == 0 ? 0 : stacks[0][1])) }
    XCTAssertGreaterThan(stacks[0].count, 2)
    XCTAssertEqual(stacks[1], Array(stacks[0].dropFirst()))
    // An address on no frame leaves the stack as `skip` makes it.
    var buffer = [UInt64](repeating: 0, count: 64)
    let count = buffer.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0, from: 1) }
    XCTAssertGreaterThan(count, 2)
  }

  /// A stack captured here symbolizes to this test method, in this file.
  func testOwnFunctionAppearsWithItsFile() {
    var buffer = [UInt64](repeating: 0, count: 32)
    let (count, captureLine) = (
      buffer.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0) }, #line
    )
    let symbolizer = Symbolizer.inProcess()
    let frames = symbolizer.frames(ofStack: buffer[..<count])
    let mine = frames.first { $0.function?.contains("testOwnFunctionAppearsWithItsFile") == true }
    XCTAssertNotNil(mine, FrameFormatting.text(SymbolizedAddress(address: 0, frames: frames)))
    XCTAssertEqual(mine.flatMap { $0.file.map(baseName) }, "InProcessTests.swift")
    XCTAssertGreaterThan(mine?.line ?? 0, 0)
    // The return address is attributed to the line of the call.
    XCTAssertEqual(mine?.line, captureLine)
    XCTAssertNotNil(mine?.module)
  }

  /// libc symbolized from libc6-dbg's separate debug file (found by build-id).
  func testLibcAddressSymbolizes() throws {
    // libc's own malloc (the test executable interposes one: CAllocationCounter).
    guard let handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD),
      let malloc = dlsym(handle, "malloc")
    else {
      return XCTFail("dlsym(malloc) failed")
    }
    let address = UInt64(UInt(bitPattern: malloc))
    let symbolizer = Symbolizer.inProcess()
    let frames = symbolizer.symbolize(address).frames
    let outer = try XCTUnwrap(frames.last)
    XCTAssertTrue(outer.function?.contains("malloc") == true, "\(frames)")
    XCTAssertEqual(outer.moduleName, "libc.so.6")
    let libc = ProcessModules.current().first { $0.path.hasSuffix("/libc.so.6") }
    let hex = try XCTUnwrap(libc?.buildIDHex)
    let debugFile = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
    guard FileManager.default.fileExists(atPath: debugFile) else {
      throw XCTSkip("libc6-dbg not installed (\(debugFile) missing)")
    }
    XCTAssertEqual(outer.file.map(baseName), "malloc.c")
    XCTAssertGreaterThan(outer.line, 0)
    // The same answer as llvm-symbolizer gives for the file offset.
    if let oracle = FixtureSupport.oracle(binary: libc!.path, addresses: [outer.moduleOffset]) {
      XCTAssertEqual(oracle.first?.last?.location, "malloc.c:\(outer.line)")
    }
  }

  func testModuleMapHasExecutableAndLibc() {
    let modules = ProcessModules.current()
    XCTAssertEqual(modules.first?.path, ProcessModules.executablePath())
    XCTAssertTrue(modules.contains { $0.path.hasSuffix("libc.so.6") && $0.buildID != nil })
    let here = UInt64(UInt(bitPattern: dlsym(dlopen(nil, RTLD_NOW), "malloc")))
    XCTAssertEqual(modules.filter { $0.contains(here) }.count, 1)
  }

  func testCachedLookupIsStable() {
    let symbolizer = Symbolizer.inProcess()
    var buffer = [UInt64](repeating: 0, count: 8)
    let count = buffer.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0) }
    let first = symbolizer.symbolize(stack: buffer[..<count])
    let second = symbolizer.symbolize(stack: buffer[..<count])
    XCTAssertEqual(first, second)
  }
}
