import Basics
import LockGraph

/// One printed frame of a stack: symbolized, or only an address.
public struct ReportFrame: Sendable, Hashable {
  /// The address as given.
  public var address: UInt64
  /// The readable function name, if known.
  public var function: String?
  /// The source file, if known.
  public var file: String?
  /// The 1-based source line; 0 when unknown or compiler-generated.
  public var line: Int
  /// The 1-based source column; 0 when unknown.
  public var column: Int
  /// True for every frame of an inline chain except the outermost one.
  public var isInlined: Bool
  /// The module's file name (`libc.so.6`), if known.
  public var module: String?
  /// `module+0xoffset` for an address that could not be symbolized.
  public var moduleOffset: UInt64?
  /// The module's file no longer matches the trace (another build-id):
  /// its names would be wrong, so none are given.
  public var isStale: Bool = false

  /// A frame; only `address` is required.
  public init(
    address: UInt64, function: String? = nil, file: String? = nil, line: Int = 0,
    column: Int = 0, isInlined: Bool = false, module: String? = nil, moduleOffset: UInt64? = nil,
    isStale: Bool = false
  ) {
    self.isStale = isStale
    self.address = address
    self.function = function
    self.file = file
    self.line = line
    self.column = column
    self.isInlined = isInlined
    self.module = module
    self.moduleOffset = moduleOffset
  }

  /// How the frame reads in a backtrace line or after `at:` (the `report`
  /// style of `FrameText`): `function (file:line:column)`, `function`
  /// without a file, `module+0xoffset` (followed by ` [stale binary]` for
  /// a stale module) or the bare address without a name.
  public var text: String {
    func bytes(_ text: String?) -> [UInt8]? { text.map { Array($0.utf8) } }
    let parts = FrameText.Parts(
      name: bytes(function), file: bytes(file),
      module: moduleOffset == nil ? nil : bytes(module), line: line, column: column,
      isInlined: isInlined, isStale: isStale, moduleOffset: moduleOffset ?? 0, address: address)
    var out: [UInt8] = []
    FrameText.appendDescription(parts, style: .report, to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}

/// Turns an event's origin into frames. Traces without symbols print
/// addresses; the CLI plugs in the symbolizer.
public protocol FrameResolving {
  /// The frames of the origin's stack (or of its single return address),
  /// innermost first, inlined frames included; empty when it has neither.
  func frames(for origin: Origin) -> [ReportFrame]
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
  public func frames(for origin: Origin) -> [ReportFrame] {
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      return stacks[Int(origin.stack.raw)].map { ReportFrame(address: $0) }
    }
    if origin.ip != 0 { return [ReportFrame(address: origin.ip)] }
    return []
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
  public func frames(for origin: Origin) -> [ReportFrame] {
    let t = Int(origin.trace)
    return t >= 0 && t < resolvers.count ? resolvers[t].frames(for: origin) : []
  }
}

/// A resolver of frames known as text already (a graph file's recorded
/// locations), indexed by `StackID`.
public struct RecordedFrameResolver: FrameResolving, Sendable {
  /// The frames, indexed by `StackID`.
  public var frames: [[ReportFrame]]
  /// A resolver of `frames`.
  public init(frames: [[ReportFrame]]) { self.frames = frames }

  /// The recorded frames of the origin's stack; none without one.
  public func frames(for origin: Origin) -> [ReportFrame] {
    let i = Int(origin.stack.raw)
    return !origin.stack.isNone && i < frames.count ? frames[i] : []
  }
}
