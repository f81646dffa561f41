import Testing

@testable import Lockdep

/// The recorder's tokens for names given again: the first free number from
/// 2 up, as before, found without counting up from 2 every time (a million
/// lock classes of one name took the recorder minutes: 5 × 10¹¹ lookups).
@Suite struct UniqueTokensTests {
  @Test func aNameGivenAgainGetsTheFirstFreeNumber() {
    var tokens = UniqueTokens()
    #expect(tokens.claim("k#3", separator: "#") == "k#3")
    let given = (0..<5).map { _ in tokens.claim("k", separator: "#") }
    #expect(given == ["k", "k#2", "k#4", "k#5", "k#6"])
    #expect(tokens.claim("k#2", separator: "#") == "k#2#2")
    #expect(tokens.claim("7", separator: ".") == "7")
    #expect(tokens.claim("7", separator: ".") == "7.2")
  }

  /// Every token of many of one name is distinct, and each is the one a
  /// count from 2 gives (the old search's answer).
  @Test func manyOfOneNameAreNumberedInOrder() {
    var tokens = UniqueTokens()
    var seen = Set<String>()
    for i in 1...20_000 {
      let token = tokens.claim("k", separator: "#")
      #expect(token == (i == 1 ? "k" : "k#\(i)"))
      seen.insert(token)
    }
    #expect(seen.count == 20_000)
  }
}
