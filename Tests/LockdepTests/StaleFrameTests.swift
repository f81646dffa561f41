import LockGraph
import Symbolizer
import Testing

@testable import Lockdep

#if canImport(Glibc)
  import Glibc
#endif

/// A frame-pointer walk goes on past a frame that keeps no frame pointer
/// (a sanitizer's thread start function, a C library built without them)
/// and reads whatever return address lies there: a different one each time
/// (an independent trial saw `LD_PRELOAD=libtsan.so` turn one finding
/// repeated 2,000 times into 1,000 findings). Like a debugger's unwinder,
/// which stops at a return address in no loaded object, the live stack
/// table ends a stack there, so that one bug's occurrences share one stack,
/// its site (spec/reports.md).
@Suite struct StaleFrameTests {
  /// This test's own stack, as the live validator captures one.
  static func captured() -> [UInt64] {
    let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 64)
    defer { buffer.deallocate() }
    let n = StackCapture.capture(into: buffer, skip: 0)
    return Array(buffer[..<n])
  }

  static func intern(_ addresses: [UInt64], in stacks: LiveStacks) -> [UInt64]? {
    let id = addresses.withUnsafeBufferPointer { stacks.intern($0) { _, _, _ in }.id }
    return stacks.stack(id)
  }

  @Test func aStackEndsAtAReturnAddressInNoMapping() throws {
    let stacks = LiveStacks()
    let real = Self.captured()
    try #require(real.count >= 3)
    // Every frame of a real stack is in a mapping: kept whole.
    #expect(Self.intern(real, in: stacks) == real)
    // Two walks that ran past the same frame into stale return addresses
    // (none in a mapping; the last of a real stack after them) are one
    // stack, ending where the real frames end.
    let prefix = Array(real.prefix(2))
    let first = Self.intern(prefix + [0x559_b802, real[2]], in: stacks)
    let second = Self.intern(prefix + [0x558_b16c], in: stacks)
    #expect(first == prefix)
    #expect(second == prefix)
    // The call site is kept whatever it is: a stack is never empty.
    #expect(Self.intern([0x10, 0x20], in: stacks) == [0x10])
  }

  /// A frame in executable memory of no file is kept, and the frames after
  /// it: the kernel's `[vdso]` (where aarch64's signal return is), and
  /// anonymous code (a JIT's) mapped before the stack was captured. (The
  /// review of the change above found a stack cut at a `[vdso]` frame.)
  @Test func framesInTheVDSOAndInAnonymousCodeAreKept() throws {
    let real = Self.captured()
    try #require(real.count >= 3)
    let vdso = try #require(ExecutableMappings.read().first { $0.path == "[vdso]" }).start
    let page = try #require(
      mmap(nil, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    defer { munmap(page, 4096) }
    let jit = UInt64(UInt(bitPattern: page))
    // Read after the mapping was made: a new table.
    let stacks = LiveStacks()
    let stack = [real[0], vdso + 0x101, real[1], jit + 0x11, real[2]]
    #expect(Self.intern(stack, in: stacks) == stack)
  }
}
