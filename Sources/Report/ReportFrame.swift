import LockGraph

/// One printed frame of a stack: symbolized, or only an address.
public struct ReportFrame: Sendable, Hashable {
  public var address: UInt64
  public var function: String?
  public var file: String?
  public var line: Int
  public var column: Int
  public var isInlined: Bool
  public var module: String?
  /// `module+0xoffset` for an address that could not be symbolized.
  public var moduleOffset: UInt64?
  /// The module's file no longer matches the trace (another build-id):
  /// its names would be wrong, so none are given.
  public var isStale: Bool = false

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

  /// `file:line:column`, `<compiler-generated>` for line 0, or nil
  /// without a file.
  public var location: String? {
    guard let file else { return nil }
    if line == 0 { return "\(file):<compiler-generated>" }
    return column > 0 ? "\(file):\(line):\(column)" : "\(file):\(line)"
  }

  /// How the frame reads in a backtrace line or after `at:`.
  public var text: String {
    if let function {
      if let location { return "\(function) (\(location))" }
      return function
    }
    if let module, let moduleOffset {
      let text = "\(module)+0x\(String(moduleOffset, radix: 16))"
      return isStale ? text + " [stale binary]" : text
    }
    return "0x\(String(address, radix: 16))"
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
  public var stacks: [[UInt64]]
  public init(stacks: [[UInt64]]) { self.stacks = stacks }

  public func frames(for origin: Origin) -> [ReportFrame] {
    if !origin.stack.isNone, Int(origin.stack.raw) < stacks.count {
      return stacks[Int(origin.stack.raw)].map { ReportFrame(address: $0) }
    }
    if origin.ip != 0 { return [ReportFrame(address: origin.ip)] }
    return []
  }
}
