import LockGraph
import Report
import Symbolizer
import Testing

/// A report prints at most `TextReport.maxFramesShown` frames of a stack,
/// and one for an `at:`; a trace's stack may hold 4,096 addresses, printed
/// at every held lock of every finding. The first frames are made from as
/// few addresses as give them (`frames(for:first:)`), and the count of a
/// stack is made once: 100 findings under 1,000 held locks with stacks of
/// 4,096 addresses took 25.6 s and take 0.25 s. The prefix must be the
/// whole stack's, the filtered leading frames left out the same way.
@Suite struct FramePrefixTests {
  /// This process's stack from a few frames of this module down, and
  /// the resolvers of it: one that keeps every frame, and one that hides
  /// this module's (a leading run to leave out).
  @inline(never)
  static func stackAndResolvers() -> ([UInt64], [any FrameResolving]) {
    let stack = captured(depth: 40)
    let symbolizer = Symbolizer.inProcess()
    let resolvers: [any FrameResolving] =
      [
        FrameFilterChoice(keepOwnFrames: true),
        FrameFilterChoice(hidden: ["RawLockCheckTests"]),
        FrameFilterChoice(hidden: ["$s"]),
      ].map { choice in
        SymbolizingFrameResolver(symbolizer: symbolizer, stacks: { _ in stack }, filter: choice)
      } + [AddressFrameResolver(stacks: [stack])]
    return (stack, resolvers)
  }

  /// This process's stack under `depth` more calls of this function: a
  /// leading run of Swift frames longer than the first few addresses.
  @inline(never)
  static func captured(depth: Int) -> [UInt64] {
    if depth > 0 { return captured(depth: depth - 1) + [] }
    var buffer = [UInt64](repeating: 0, count: 128)
    let count = buffer.withUnsafeMutableBufferPointer { StackCapture.capture(into: $0) }
    return Array(buffer[..<count])
  }

  @Test func theFirstFramesAreTheWholeStacksFirst() {
    let (stack, resolvers) = Self.stackAndResolvers()
    #expect(stack.count > 40)
    let origin = Origin(stack: StackID(0))
    for resolver in resolvers {
      let all = resolver.frames(for: origin)
      #expect(!all.isEmpty)
      #expect(resolver.frameCount(for: origin) == all.count)
      for limit in 0...(all.count + 2) {
        #expect(
          resolver.frames(for: origin, first: limit) == Array(all.prefix(limit)),
          "\(type(of: resolver)) first \(limit) of \(all.count)")
      }
    }
    // A return address alone.
    let ip = Origin(ip: stack[0])
    for resolver in resolvers {
      let all = resolver.frames(for: ip)
      #expect(resolver.frames(for: ip, first: 1) == Array(all.prefix(1)))
      #expect(resolver.frameCount(for: ip) == all.count)
    }
  }
}
