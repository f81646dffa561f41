import LockGraph

/// The text parser's event loop: a line of plain tokens (no quote, comment
/// or `key=value` option) naming a known thread and class is parsed in one
/// pass over its bytes, without the general tokenizer.
extension TextTraceParser {
  /// Parses `line` as `<tid> <verb> [<class>] [flag...]` into the batch.
  /// - Returns: false, with nothing changed, when the line is anything
  ///   else (a declaration, an option, a quote or comment, an unknown
  ///   thread, class, verb or flag, a repeated flag, a free or init): the
  ///   general parser then reads it, and says what is wrong with it if
  ///   anything is.
  @inline(__always)
  mutating func parseSimpleEvent(_ line: UnsafeRawBufferPointer, number: Int64) -> Bool {
    guard let base = line.baseAddress else { return false }
    var cursor = SimpleTokens(base: base, count: line.count)
    guard let tid = cursor.next(), let verbToken = cursor.next(),
      !isDeclarationOrHeader(line, tid),
      let thread = threadIDs.find(
        UnsafeRawBufferPointer(start: base + tid.start, count: tid.count), hash: tid.hash),
      let verb = words.verb(line, verbToken.start, verbToken.end)
    else { return false }
    let rule = words.verbs[Int(verb.rawValue)]
    guard rule.required.isEmpty else { return false }
    var lockClass = ClassID.none
    switch rule.operand {
    case .none: break
    case .lockClass:
      guard let token = cursor.next(),
        let id = classIDs.find(
          UnsafeRawBufferPointer(start: base + token.start, count: token.count), hash: token.hash)
      else { return false }
      lockClass = ClassID(id)
    case .addressAndLength: return false
    }
    guard let flagToken = cursor.next() else {
      if cursor.sawSpecial { return false }
      // Built in one piece where it is stored (no store-forwarding stall).
      append(
        LockEvent(
          verb, thread: ThreadID(thread), lockClass: lockClass, origin: Origin(line: number)),
        number: number)
      return true
    }
    var event = LockEvent(
      verb, thread: ThreadID(thread), lockClass: lockClass, origin: Origin(line: number))
    var next: (start: Int, end: Int, count: Int, hash: UInt64)? = flagToken
    var groups: UInt32 = 0
    var seen: UInt32 = 0
    while let token = next {
      guard
        let flag = words.flag(
          line, Tokenizer.Token(start: token.start, end: token.end, quoted: false),
          among: rule.flags),
        Self.claim(&seen, flag.rawValue &+ 1),
        Self.claim(&groups, words.flagGroups[Int(flag.rawValue)])
      else { return false }
      words.flagSetters[Int(flag.rawValue)](&event)
      next = cursor.next()
    }
    if cursor.sawSpecial { return false }
    append(event, number: number)
    return true
  }

  /// The first token spells a declaration or the header, which the
  /// general parser reads even where a thread has that token.
  @inline(__always)
  private func isDeclarationOrHeader(
    _ line: UnsafeRawBufferPointer, _ token: (start: Int, end: Int, count: Int, hash: UInt64)
  ) -> Bool {
    guard token.count < 64, words.declarationLengths & (1 << UInt64(token.count)) != 0 else {
      return false
    }
    let plain = Tokenizer.Token(start: token.start, end: token.end, quoted: false)
    return words.declaration(line, plain) != nil
      || CompiledVocabulary.same(words.header, line, token.start, token.end)
  }
}

/// Splits a line into plain tokens, one at a time; stops (and says so) at
/// the first byte that needs the general tokenizer: a quote, a comment, an
/// option's `=`.
struct SimpleTokens {
  let base: UnsafeRawPointer
  let count: Int
  private var i = 0
  /// A quote, `#` or `=` was met: the line is not simple.
  private(set) var sawSpecial = false

  init(base: UnsafeRawPointer, count: Int) {
    self.base = base
    self.count = count
  }

  /// The next token's bounds, or nil at the end of the line or at a byte
  /// that is not simple.
  @inline(__always)
  mutating func next() -> (start: Int, end: Int, count: Int, hash: UInt64)? {
    while i < count {
      let c = base.load(fromByteOffset: i, as: UInt8.self)
      if c != 0x20 && c != 0x09 { break }
      i += 1
    }
    if i == count || sawSpecial { return nil }
    let start = i
    var h = TokenTable.seed
    while i < count {
      let c = base.load(fromByteOffset: i, as: UInt8.self)
      if c == 0x20 || c == 0x09 { break }
      if c == 0x22 || c == 0x23 || c == 0x3D {
        sawSpecial = true
        return nil
      }
      h = TokenTable.mix(h, c)
      i += 1
    }
    return (start, i, i - start, TokenTable.finish(h))
  }
}
