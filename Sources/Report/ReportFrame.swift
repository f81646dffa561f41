import Basics
import LockGraph
import Symbolizer

extension Frame {
  /// How the frame reads after a lock line's `at:` (the `report` style of
  /// `FrameText`): `function (file:line)`, `function` without a file,
  /// `module+0xoffset` (followed by ` [stale binary]` for a stale module)
  /// or the bare address. A recorded frame (a graph file's, address 0)
  /// with a file but no function reads `?? (file:line)`, as addr2line
  /// names an unknown one.
  public var reportText: String { text(style: .report) }

  /// How the frame reads in a report's `stack backtrace:` (the `backtrace`
  /// style): `reportText` without the parentheses, `function file:line`.
  public var backtraceText: String { text(style: .backtrace) }

  private func text(style: FrameText.Style) -> String {
    // A name or file from a damaged (or hostile) file may hold a line
    // break or an escape sequence: escaped, so that a frame stays one
    // line and reaches the terminal as text.
    func bytes(_ text: String?) -> [UInt8]? { text.map { Array(QuotedText.printable($0).utf8) } }
    let name = function ?? (address == 0 && file != nil ? "??" : nil)
    // Swift's marker reads as itself, with no line, whatever directory and
    // line DWARF gave it (`/<compiler-generated>:37:9` was one frame's).
    let generated = sourceFile == nil && file != nil
    let parts = FrameText.Parts(
      name: bytes(name), file: bytes(generated ? FrameText.compilerGeneratedFile : file),
      module: bytes(moduleName), line: generated ? 0 : line, column: generated ? 0 : column,
      isInlined: isInlined, isStale: isStale, moduleOffset: moduleOffset, address: address)
    var out: [UInt8] = []
    FrameText.appendDescription(parts, style: style, to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}

extension Frame {
  /// The frame's source file for machine-read output (JSON, SARIF): nil
  /// for Swift's `<compiler-generated>` marker (DWARF's `/` joined to it
  /// reads `/<compiler-generated>`, a path no tool should open). Text
  /// prints the marker, as Swift's backtracer does.
  public var sourceFile: String? {
    guard let file, !file.hasSuffix("<compiler-generated>") else { return nil }
    return file
  }
}

/// Turns an event's origin into frames. Traces without symbols print
/// addresses; the CLI plugs in the symbolizer.
public protocol FrameResolving {
  /// The frames of the origin's stack (or of its single return address),
  /// innermost first, inlined frames included; empty when it has neither.
  func frames(for origin: Origin) -> [Frame]

  /// The first `limit` of `frames(for:)`, without making the others: a
  /// trace's stack may hold thousands of addresses, and a report prints
  /// at most `TextReport.maxFramesShown` of a stack (and one for an
  /// `at:`) each of the many times it prints it.
  func frames(for origin: Origin, first limit: Int) -> [Frame]

  /// How many frames `frames(for:)` has.
  func frameCount(for origin: Origin) -> Int

  /// The symbolizers this resolver looks addresses up with (none: it
  /// prints addresses, or frames it was given).
  var symbolizers: [Symbolizer] { get }
}

extension FrameResolving {
  /// The first `limit` frames, of all made.
  public func frames(for origin: Origin, first limit: Int) -> [Frame] {
    Array(frames(for: origin).prefix(limit))
  }

  /// All frames made and counted.
  public func frameCount(for origin: Origin) -> Int { frames(for: origin).count }

  /// None: a resolver that symbolizes nothing.
  public var symbolizers: [Symbolizer] { [] }
}

/// A resolver that prints addresses only, from a table of stacks indexed by
/// `StackID`.
public struct AddressFrameResolver: FrameResolving, Sendable {
  /// The stacks, indexed by `StackID`.
  public var stacks: [[UInt64]]
  /// A resolver of `stacks`.
  public init(stacks: [[UInt64]]) { self.stacks = stacks }

  /// One unsymbolized frame per address of the origin's stack, else one for
  /// its return address.
  public func frames(for origin: Origin) -> [Frame] {
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      return stacks[Int(origin.stack.raw)].map { Frame(address: $0) }
    }
    if origin.ip != 0 { return [Frame(address: origin.ip)] }
    return []
  }

  /// The frames of the first `limit` addresses.
  public func frames(for origin: Origin, first limit: Int) -> [Frame] {
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      return stacks[Int(origin.stack.raw)].prefix(max(limit, 0)).map { Frame(address: $0) }
    }
    return limit > 0 ? frames(for: origin) : []
  }

  /// One a stack's address, else one for a return address.
  public func frameCount(for origin: Origin) -> Int {
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      return stacks[Int(origin.stack.raw)].count
    }
    return origin.ip != 0 ? 1 : 0
  }
}

/// A resolver for several merged sources: routes each origin to the
/// resolver of its source (`Origin.trace`), so that each trace's stack ids
/// are looked up in that trace's own stack table and modules.
public struct MergedFrameResolver: FrameResolving {
  /// The resolvers, indexed by `Origin.trace`.
  public var resolvers: [any FrameResolving]
  /// A resolver routing to `resolvers[origin.trace]`.
  public init(resolvers: [any FrameResolving]) { self.resolvers = resolvers }

  /// The frames from the origin's source's resolver; none for an unknown source.
  public func frames(for origin: Origin) -> [Frame] {
    let t = Int(origin.trace)
    return t >= 0 && t < resolvers.count ? resolvers[t].frames(for: origin) : []
  }

  /// The first `limit` frames from the origin's source's resolver.
  public func frames(for origin: Origin, first limit: Int) -> [Frame] {
    let t = Int(origin.trace)
    return t >= 0 && t < resolvers.count ? resolvers[t].frames(for: origin, first: limit) : []
  }

  /// The frame count from the origin's source's resolver.
  public func frameCount(for origin: Origin) -> Int {
    let t = Int(origin.trace)
    return t >= 0 && t < resolvers.count ? resolvers[t].frameCount(for: origin) : 0
  }

  /// Every source's symbolizers, each once (sources of one build share one).
  public var symbolizers: [Symbolizer] {
    var seen: Set<ObjectIdentifier> = []
    return resolvers.flatMap(\.symbolizers).filter { seen.insert(ObjectIdentifier($0)).inserted }
  }
}

/// A resolver of frames known as text already (a graph file's recorded
/// locations), indexed by `StackID`.
public struct RecordedFrameResolver: FrameResolving, Sendable {
  /// The frames, indexed by `StackID`.
  public var frames: [[Frame]]
  /// A resolver of `frames`.
  public init(frames: [[Frame]]) { self.frames = frames }

  /// The recorded frames of the origin's stack; none without one.
  public func frames(for origin: Origin) -> [Frame] {
    let i = Int(origin.stack.raw)
    return !origin.stack.isNone && i < frames.count ? frames[i] : []
  }
}
