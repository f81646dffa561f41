import Basics

/// A small JSON emitter: objects keep the order fields are written in, so
/// output is stable and reads in the order `spec/reports.md` lists.
public struct JSONValue: Sendable {
  indirect enum Node: Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case elements(count: Int, element: @Sendable (Int) -> JSONValue)
    case object([(String, JSONValue)])
  }
  let node: Node

  /// A string.
  public static func string(_ s: String) -> JSONValue { JSONValue(node: .string(s)) }
  /// An integer (as a 64-bit signed one).
  public static func int(_ i: some BinaryInteger) -> JSONValue { JSONValue(node: .int(Int64(i))) }
  /// `true` or `false`.
  public static func bool(_ b: Bool) -> JSONValue { JSONValue(node: .bool(b)) }
  /// `null`.
  public static let null = JSONValue(node: .null)
  /// An array.
  public static func array(_ a: [JSONValue]) -> JSONValue { JSONValue(node: .array(a)) }
  /// An array of `count` elements, each made by `element` only as it is
  /// written and dropped after: what a large array (a graph's edges) costs
  /// is its text, not a tree of every element at once.
  public static func elements(count: Int, _ element: @escaping @Sendable (Int) -> JSONValue)
    -> JSONValue
  {
    JSONValue(node: .elements(count: count, element: element))
  }
  /// An object whose fields keep the order given.
  public static func object(_ o: [(String, JSONValue)]) -> JSONValue { JSONValue(node: .object(o)) }
  /// A string, or `null` for nil.
  public static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

  /// The text, indented by two spaces per level, or on one line.
  public func render(pretty: Bool = true) -> String {
    String(decoding: bytes(pretty: pretty), as: UTF8.self)
  }

  /// `render(pretty:)` as UTF-8, written straight into one buffer (a graph
  /// of half a million edges is a few hundred megabytes of it).
  public func bytes(pretty: Bool = true) -> [UInt8] {
    var out = Output(sink: nil)
    write(into: &out, indent: pretty ? 0 : -1)
    return out.bytes
  }

  /// `bytes(pretty:)` handed to `sink` a piece at a time, each of about
  /// `chunk` bytes (the last one shorter) and emptied by `sink`: with the
  /// elements of large arrays made as they are written (`elements`), what
  /// a document costs is its largest element, not its text. `indent`: the
  /// nesting level the value is written at when pretty (1 for an element
  /// of a top-level array written on its own), its first line not
  /// indented.
  public func write(
    pretty: Bool = true, indent: Int = 0, chunk: Int = 1 << 20,
    to sink: @escaping (inout [UInt8]) -> Void
  ) {
    var out = Output(sink: sink, chunk: chunk)
    write(into: &out, indent: pretty ? indent : -1)
    sink(&out.bytes)
  }

  /// The text written so far, and where it goes when it is long.
  private struct Output {
    var bytes: [UInt8] = []
    let sink: ((inout [UInt8]) -> Void)?
    var chunk = Int.max

    /// Hands the text to the sink once it is `chunk` bytes long.
    mutating func flushIfLong() {
      if bytes.count >= chunk, let sink { sink(&bytes) }
    }
  }

  private func write(into output: inout Output, indent: Int) {
    let pretty = indent >= 0
    switch node {
    case .string(let s): Self.quote(s, into: &output.bytes)
    case .int(let i): NumberText.appendDecimal(Int(i), to: &output.bytes)
    case .bool(let b): FrameText.append(b ? "true" : "false", to: &output.bytes)
    case .null: FrameText.append("null", to: &output.bytes)
    case .array(let items):
      Self.writeArray(items.count, { items[$0] }, into: &output, indent: indent)
    case .elements(let count, let element):
      Self.writeArray(count, element, into: &output, indent: indent)
    case .object(let fields):
      if fields.isEmpty {
        FrameText.append("{}", to: &output.bytes)
        return
      }
      output.bytes.append(UInt8(ascii: "{"))
      for (i, (key, value)) in fields.enumerated() {
        Self.separate(first: i == 0, indent: indent, into: &output.bytes)
        Self.quote(key, into: &output.bytes)
        FrameText.append(": ", to: &output.bytes)
        value.write(into: &output, indent: pretty ? indent + 1 : -1)
        output.flushIfLong()
      }
      Self.close(UInt8(ascii: "}"), indent: indent, into: &output.bytes)
    }
  }

  /// An array of `count` elements, `element(i)` the i-th.
  private static func writeArray(
    _ count: Int, _ element: (Int) -> JSONValue, into output: inout Output, indent: Int
  ) {
    if count == 0 {
      FrameText.append("[]", to: &output.bytes)
      return
    }
    output.bytes.append(UInt8(ascii: "["))
    for i in 0..<count {
      separate(first: i == 0, indent: indent, into: &output.bytes)
      element(i).write(into: &output, indent: indent >= 0 ? indent + 1 : -1)
      output.flushIfLong()
    }
    close(UInt8(ascii: "]"), indent: indent, into: &output.bytes)
  }

  /// What goes before an item of a container at `indent` (-1: on one
  /// line): a comma unless it is the first, then a line break and the
  /// item's indentation, or a space.
  private static func separate(first: Bool, indent: Int, into out: inout [UInt8]) {
    if !first { out.append(UInt8(ascii: ",")) }
    if indent >= 0 {
      out.append(UInt8(ascii: "\n"))
      out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * (indent + 1)))
    } else if !first {
      out.append(UInt8(ascii: " "))
    }
  }

  /// A container's closing bracket, on a line of its own when pretty.
  private static func close(_ bracket: UInt8, indent: Int, into out: inout [UInt8]) {
    if indent >= 0 {
      out.append(UInt8(ascii: "\n"))
      out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }
    out.append(bracket)
  }

  /// Appends `s` as a JSON string literal.
  static func quote(_ s: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    JSONText.appendEscaped(s, to: &out)
    out.append(UInt8(ascii: "\""))
  }
}
