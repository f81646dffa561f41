import Foundation
import Report
import Testing

/// The JSON emitter: an array made element by element as it is written
/// (`elements`) is the same text as the array built whole, pretty or on one
/// line, empty or nested; and every text it writes is JSON that Foundation
/// reads back to the same values.
@Suite struct JSONValueTests {
  static func item(_ i: Int) -> JSONValue {
    .object([
      ("n", .int(i)), ("s", .string(i % 2 == 0 ? "plain é" : "quote \" slash \\ line\n\u{1}")),
      ("b", .bool(i % 3 == 0)), ("z", .null), ("a", .array((0..<i % 3).map { .int($0) })),
      ("e", .object([])),
    ])
  }

  @Test(arguments: [0, 1, 2, 7])
  func elementsWriteWhatAnArrayWrites(count: Int) throws {
    let whole = JSONValue.object([
      ("items", .array((0..<count).map(Self.item))), ("after", .int(1)),
    ])
    let lazy = JSONValue.object([
      ("items", .elements(count: count) { Self.item($0) }), ("after", .int(1)),
    ])
    for pretty in [true, false] {
      let text = whole.render(pretty: pretty)
      #expect(lazy.render(pretty: pretty) == text)
      #expect(String(decoding: lazy.bytes(pretty: pretty), as: UTF8.self) == text)
      let parsed = try #require(
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
      let items = try #require(parsed["items"] as? [[String: Any]])
      #expect(items.count == count)
      for (i, item) in items.enumerated() {
        #expect(item["n"] as? Int == i)
        #expect(item["s"] as? String == (i % 2 == 0 ? "plain é" : "quote \" slash \\ line\n\u{1}"))
        #expect((item["a"] as? [Int])?.count == i % 3)
      }
    }
    #expect(whole.render(pretty: false).contains("\n") == false)
  }

  /// Written a piece at a time (`write(pretty:indent:chunk:to:)`, any chunk
  /// size), the text is the document's, byte for byte; written at nesting
  /// level 1 after `[\n  `, as `report --format json` writes each trace's
  /// object of several, it is what the array of them renders.
  @Test(arguments: [0, 1, 2, 7])
  func writtenInPiecesIsTheDocument(count: Int) {
    let lazy = JSONValue.object([
      ("items", .elements(count: count) { Self.item($0) }),
      ("empty", .elements(count: 0) { Self.item($0) }),
      ("after", .int(1)),
    ])
    for pretty in [true, false] {
      for chunk in [1, 7, 64, 1 << 20] {
        var pieces: [UInt8] = []
        var calls = 0
        lazy.write(pretty: pretty, chunk: chunk) { bytes in
          pieces += bytes
          bytes.removeAll()
          calls += 1
        }
        #expect(pieces == lazy.bytes(pretty: pretty), "pretty \(pretty) chunk \(chunk)")
        #expect(calls >= 1)
      }
    }
    var several: [UInt8] = Array("[\n  ".utf8)
    lazy.write(indent: 1) {
      several += $0
      $0.removeAll()
    }
    several += Array(",\n  ".utf8)
    lazy.write(indent: 1) {
      several += $0
      $0.removeAll()
    }
    several += Array("\n]".utf8)
    #expect(several == JSONValue.array([lazy, lazy]).bytes())
  }
}
