import LockGraph
import Symbolizer
import Testing

@testable import Lockdep

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
}
