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
  /// An object whose fields keep the order given.
  public static func object(_ o: [(String, JSONValue)]) -> JSONValue { JSONValue(node: .object(o)) }
  /// A string, or `null` for nil.
  public static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

  /// The text, indented by two spaces per level, or on one line.
  public func render(pretty: Bool = true) -> String {
    var out = ""
    write(into: &out, indent: pretty ? 0 : -1)
    return out
  }

  private func write(into out: inout String, indent: Int) {
    let pretty = indent >= 0
    let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
    let closePad = pretty ? String(repeating: "  ", count: indent) : ""
    let sep = pretty ? ",\n" : ", "
    let open = pretty ? "\n" : ""
    switch node {
    case .string(let s): Self.quote(s, into: &out)
    case .int(let i): out += String(i)
    case .bool(let b): out += b ? "true" : "false"
    case .null: out += "null"
    case .array(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "[" + open
      for (i, item) in items.enumerated() {
        if i > 0 { out += sep }
        out += pad
        item.write(into: &out, indent: pretty ? indent + 1 : -1)
      }
      out += (pretty ? "\n" + closePad : "") + "]"
    case .object(let fields):
      if fields.isEmpty {
        out += "{}"
        return
      }
      out += "{" + open
      for (i, (key, value)) in fields.enumerated() {
        if i > 0 { out += sep }
        out += pad
        Self.quote(key, into: &out)
        out += ": "
        value.write(into: &out, indent: pretty ? indent + 1 : -1)
      }
      out += (pretty ? "\n" + closePad : "") + "}"
    }
  }

  /// Appends `s` as a JSON string literal.
  static func quote(_ s: String, into out: inout String) {
    out += JSONText.quoted(s)
  }
}
