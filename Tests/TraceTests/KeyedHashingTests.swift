import Testing

@testable import Trace

/// The readers' tables turn to the keyed hash when a trace's keys all hash
/// alike under the fast one (each lookup then probed them all), still
/// finding every key; ordinary keys keep the fast hash.
@Suite struct KeyedHashingTests {
  static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

  /// Sixteen-byte tokens whose second chunk undoes the first under the
  /// fast hash (`TokenTable.mix` from `TokenTable.seed`): all hash alike.
  static func collidingTokens(_ n: Int) -> [[UInt8]] {
    (0..<n).map { i in
      let first = 0x4141_4141_0000_0000 | UInt64(i)
      let second = ((TokenTable.seed ^ first) &* golden) ^ 0x5A5A
      return withUnsafeBytes(of: first.littleEndian) { Array($0) }
        + withUnsafeBytes(of: second.littleEndian) { Array($0) }
    }
  }

  @Test func tokensThatHashAlikeTurnTheTableKeyed() {
    let tokens = Self.collidingTokens(2000)
    let hashes = Set(tokens.map { $0.withUnsafeBytes { TokenTable.hash($0) } })
    #expect(hashes.count == 1)
    var table = TokenTable()
    for (i, token) in tokens.enumerated() {
      token.withUnsafeBytes { table.insert($0, value: Int32(i)) }
    }
    let keyed = table.isKeyed
    #expect(keyed)
    for (i, token) in tokens.enumerated() {
      #expect(token.withUnsafeBytes { table.find($0) } == Int32(i))
      // The text reader's lookup, with the fast hash it computed.
      let padded = token + [UInt8](repeating: 0, count: 8)
      let found = padded.withUnsafeBytes {
        table.find(
          paddedBytes: $0.baseAddress!, length: token.count,
          hash: TokenTable.hash(UnsafeRawBufferPointer(rebasing: $0.prefix(token.count))))
      }
      #expect(found == Int32(i))
    }
    #expect(Array("absent-token".utf8).withUnsafeBytes { table.find($0) } == nil)
  }

  /// Tokens whose fast hashes are all different but have consecutive top
  /// bits, inserted in bit-reversed order: each lands in its own home slot
  /// (one probe), yet together they fill one run of 2,048 slots, which a
  /// lookup that misses walks whole. The run's length turns the table
  /// keyed.
  @Test func tokensThatFillOneRunTurnTheTableKeyed() {
    // The inverse of the golden ratio's odd multiplier, modulo 2^64.
    var inverse = Self.golden
    for _ in 0..<6 { inverse = inverse &* (2 &- Self.golden &* inverse) }
    #expect(inverse &* Self.golden == 1)
    let tokens: [[UInt8]] = (0..<2048).map { i in
      // `i`'s 11 bits, reversed.
      let k = (0..<11).reduce(UInt64(0)) { $0 | UInt64(i >> $1 & 1) << (10 - $1) }
      let first = 0x4242_4242_0000_0000 | UInt64(i)
      // hash = finish(mix(mix(seed, first), second), 16) = k << 52: the
      // home of slot k of the 4,096-slot table the tokens end in.
      let wanted = (k << 52) &* inverse ^ 16
      let second = ((TokenTable.seed ^ first) &* Self.golden) ^ (wanted &* inverse)
      return withUnsafeBytes(of: first.littleEndian) { Array($0) }
        + withUnsafeBytes(of: second.littleEndian) { Array($0) }
    }
    let hashes = tokens.map { $0.withUnsafeBytes { TokenTable.hash($0) } }
    #expect(Set(hashes.map { $0 >> 52 }).count == 2048)
    var table = TokenTable()
    for (i, token) in tokens.enumerated() {
      token.withUnsafeBytes { table.insert($0, value: Int32(i)) }
    }
    let keyed = table.isKeyed
    #expect(keyed)
    #expect(
      tokens.enumerated().allSatisfy { i, token in
        token.withUnsafeBytes { table.find($0) } == Int32(i)
      })
  }

  @Test func ordinaryTokensKeepTheFastHash() {
    var table = TokenTable()
    for i in 0..<100_000 { table.insert("t\(i)", value: Int32(i)) }
    let keyed = table.isKeyed
    #expect(!keyed)
    #expect(table.find("t99999") == 99_999)
  }

  /// Two-address stacks whose second address undoes the first under
  /// `StackIndex.hash`: all hash alike.
  static func collidingStacks(_ n: Int) -> [[UInt64]] {
    (0..<n).map { i in
      let first = 0x7F00_0000_0000 + UInt64(i) * 16
      var h = UInt64(2) &* golden
      h = (h ^ first) &* 0xBF58_476D_1CE4_E5B9
      h ^= h >> 29
      return [first, h ^ 0x1234]
    }
  }

  @Test func stacksThatHashAlikeTurnTheIndexKeyed() {
    let chosen = Self.collidingStacks(2000)
    #expect(Set(chosen.map(StackIndex.hash)).count == 1)
    var index = StackIndex()
    var stacks: [[UInt64]] = []
    for stack in chosen {
      let (known, hash) = index.find(stack, in: stacks)
      #expect(known == nil)
      stacks.append(stack)
      index.insert(Int32(stacks.count - 1), hash: hash, of: stacks)
    }
    let keyed = index.isKeyed
    #expect(keyed)
    for (i, stack) in chosen.enumerated() {
      #expect(index.find(stack, in: stacks).index == Int32(i))
    }
    #expect(index.find([1, 2, 3], in: stacks).index == nil)
  }

  @Test func ordinaryStacksKeepTheFastHash() {
    var index = StackIndex()
    var stacks: [[UInt64]] = []
    for i in 0..<50_000 {
      let stack = [0x5555_0000 + UInt64(i) * 8, 0x5555_1000, 0x7F00_0000 + UInt64(i % 97)]
      let (_, hash) = index.find(stack, in: stacks)
      stacks.append(stack)
      index.insert(Int32(i), hash: hash, of: stacks)
    }
    let keyed = index.isKeyed
    #expect(!keyed)
    #expect(index.find(stacks[12_345], in: stacks).index == 12_345)
  }
}
