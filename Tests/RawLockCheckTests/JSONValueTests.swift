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
}
