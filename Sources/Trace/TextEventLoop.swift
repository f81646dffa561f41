import Basics
import LockGraph

/// The text reader's event loop: event lines parsed in place in the read
/// buffer, many at a time, straight into the batch. A line of plain tokens
/// (no quote) naming a known thread, verb, class, flags and `key=value`
/// options, perhaps with a comment after a blank, is read in one pass over
/// its bytes, eight at a time, each token hashed as its end is found.
/// Every other line is left to the general parser, which reads it (or says
/// what is wrong with it).
extension TextTraceParser {
  /// Bytes that must be readable past the end of the bytes given to
  /// `parseEvents(_:count:firstNumber:)`: its loads read whole words.
  static let readSlack = 16

  /// Parses the whole event lines at the start of `bytes` into the batch,
  /// until the batch is full, the bytes end without a whole line, or a line
  /// needs the general parser.
  /// - Parameters:
  ///   - bytes: buffered trace bytes, followed by `readSlack` more readable
  ///     bytes (their values do not matter).
  ///   - firstNumber: the line number of the first line.
  /// - Returns: the bytes of the lines parsed (each with its `\n`), and
  ///   how many lines that is.
  mutating func parseEvents(_ bytes: UnsafeRawPointer, count: Int, firstNumber: Int64) -> (
    consumed: Int, lines: Int
  ) {
    let limit = bytes + count
    var p = bytes
    let (eventSlots, positionSlots, free) = batch.freeSlots()
    var filled = 0
    defer { batch.commit(filled) }
    while filled < free {
      let number = firstNumber &+ Int64(filled)
      guard let next = parseEventLine(p, before: limit, number: number, into: eventSlots + filled)
      else { break }
      positionSlots[filled] = number
      filled &+= 1
      p = next
    }
    if filled > 0 { lineNumber = firstNumber &+ Int64(filled &- 1) }
    return (p - bytes, filled)
  }

  /// Parses the line at `line` into `slot`: the start of the next line, or
  /// nil (with `slot` untouched) when the line is not a simple event of
  /// known tokens ending before `limit`: a quote, a `#` right after a
  /// token, a comment holding more than printable ASCII and tabs, an
  /// unknown or repeated word, a value that does not read, or a missing
  /// required option leaves it to the general parser, which reads it or
  /// says what is wrong with it.
  @inline(__always)
  private func parseEventLine(
    _ line: UnsafeRawPointer, before limit: UnsafeRawPointer, number: Int64,
    into slot: UnsafeMutablePointer<LockEvent>
  ) -> UnsafeRawPointer? {
    guard let tid = Self.scanToken(line, before: limit), tid.length > 0, tid.isBlank,
      let thread = threadIDs.find(paddedBytes: line, length: tid.length, hash: tid.hash),
      !isDeclarationOrHeader(line, length: tid.length)
    else { return nil }
    var p = Self.skipBlanks(line + tid.length + 1, before: limit)
    guard let verbToken = Self.scanToken(p, before: limit), verbToken.length > 0,
      let rawVerb = words.verbTable.find(
        paddedBytes: p, length: verbToken.length, hash: verbToken.hash)
    else { return nil }
    let rule = words.verbs[Int(rawVerb)]
    // A raw value from the vocabulary: a case of the contiguous UInt8 enum.
    let verb = unsafeBitCast(UInt8(truncatingIfNeeded: rawVerb), to: LockEvent.Verb.self)
    var last = verbToken
    p += verbToken.length
    var lockClass = ClassID.none
    var address: UInt64 = 0
    var length: UInt64 = 0
    switch rule.operand {
    case .none: break
    case .lockClass:
      guard last.isBlank else { return nil }
      p = Self.skipBlanks(p + 1, before: limit)
      guard let token = Self.scanToken(p, before: limit), token.length > 0,
        let id = classIDs.find(paddedBytes: p, length: token.length, hash: token.hash)
      else { return nil }
      lockClass = ClassID(id)
      last = token
      p += token.length
    case .addressAndLength:
      guard last.isBlank else { return nil }
      p = Self.skipBlanks(p + 1, before: limit)
      guard let first = Self.scanNumber(p, before: limit), first.token.isBlank else { return nil }
      address = first.value
      p = Self.skipBlanks(p + first.token.length + 1, before: limit)
      guard let second = Self.scanNumber(p, before: limit) else { return nil }
      length = second.value
      last = second.token
      p += second.token.length
    }
    let event = LockEvent(
      verb, thread: ThreadID(thread), lockClass: lockClass, address: address, length: length,
      origin: Origin(line: number))
    if last.stop == 0x0A {
      // The general parser refuses a line this long (blanks can make it
      // so), so this loop does too.
      guard p - line <= LineReader.maxLineLength, rule.required.isEmpty else { return nil }
      // Built in one piece where it is stored (no store-forwarding stall).
      slot.initialize(to: event)
      return p + 1
    }
    guard last.isBlank else { return nil }
    p = Self.skipBlanks(p + 1, before: limit)
    var flagged = event
    var groups: UInt32 = 0
    var seen: UInt32 = 0
    var seenOptions: UInt32 = 0
    while true {
      guard let token = Self.scanToken(p, before: limit) else { return nil }
      if token.length == 0 {
        // Blanks before the line's end, a comment after a blank, or a
        // byte for the general parser.
        if token.stop == 0x23 {
          guard let end = Self.commentEnd(p, before: limit) else { return nil }
          p = end
        } else {
          guard token.stop == 0x0A else { return nil }
        }
        break
      }
      if token.stop == 0x3D {
        // `key=value`: a key of the verb's row, once, and a plain value.
        guard
          let raw = words.optionTable.find(paddedBytes: p, length: token.length, hash: token.hash),
          rule.options.contains(EventOptions(rawValue: 1 << UInt8(raw))),
          Self.claim(&seenOptions, UInt8(raw) &+ 1)
        else { return nil }
        p += token.length + 1
        guard let value = Self.scanToken(p, before: limit), value.length > 0,
          value.stop == 0x0A || value.isBlank,
          let read = optionValue(Int(raw), p, value)
        else { return nil }
        TraceVocabulary.store(EventOption(rawValue: UInt8(raw))!, read, in: &flagged)
        p += value.length
        if value.stop == 0x0A { break }
      } else {
        guard
          let raw = words.flagTable.find(paddedBytes: p, length: token.length, hash: token.hash),
          rule.flags.contains(EventFlags(rawValue: 1 << UInt8(raw))),
          Self.claim(&seen, UInt8(raw) &+ 1),
          Self.claim(&groups, words.flagGroups[Int(raw)])
        else { return nil }
        TraceVocabulary.store(EventFlag(rawValue: UInt8(raw))!, in: &flagged)
        p += token.length
        if token.stop == 0x0A { break }
        guard token.isBlank else { return nil }
      }
      p = Self.skipBlanks(p + 1, before: limit)
    }
    guard p - line <= LineReader.maxLineLength,
      rule.required.isEmpty
        || TraceVocabulary.missingOption(of: flagged, required: rule.required) == nil
    else { return nil }
    slot.initialize(to: flagged)
    return p + 1
  }

  /// The value of option `raw` spelled by `token` at `p` (unquoted), as
  /// the general parser reads it; nil when it does not read (the general
  /// parser then says why).
  @inline(__always)
  private func optionValue(_ raw: Int, _ p: UnsafeRawPointer, _ token: ScannedToken)
    -> OptionValue?
  {
    switch words.optionValues[raw] {
    case .subclass:
      guard let n = NumberText.parse(UnsafeRawBufferPointer(start: p, count: token.length)),
        n <= TraceVocabulary.maxSubclass
      else { return nil }
      return .number(n)
    case .address:
      return NumberText.parse(UnsafeRawBufferPointer(start: p, count: token.length)).map {
        .number($0)
      }
    case .lockClass:
      return classIDs.find(paddedBytes: p, length: token.length, hash: token.hash).map {
        .lockClass(ClassID($0))
      }
    case .stack:
      return stackIDs.find(paddedBytes: p, length: token.length, hash: token.hash).map {
        .stack(StackID($0))
      }
    }
  }

  /// The number spelled by the token at `p` (decimal, or hexadecimal after
  /// `0x`), and the token; nil when the token does not end before `limit`
  /// at a blank or the line's end, or is not a number.
  @inline(__always)
  static func scanNumber(_ p: UnsafeRawPointer, before limit: UnsafeRawPointer) -> (
    value: UInt64, token: ScannedToken
  )? {
    guard let token = scanToken(p, before: limit), token.stop == 0x0A || token.isBlank,
      let value = NumberText.parse(UnsafeRawBufferPointer(start: p, count: token.length))
    else { return nil }
    return (value, token)
  }

  /// The first token spells a declaration or the header, which the
  /// general parser reads even where a thread has that token.
  @inline(__always)
  private func isDeclarationOrHeader(_ token: UnsafeRawPointer, length: Int) -> Bool {
    guard length < 64, words.declarationLengths & (1 << UInt64(length)) != 0 else {
      return false
    }
    let bytes = UnsafeRawBufferPointer(start: token, count: length)
    return words.declaration(bytes, Tokenizer.Token(start: 0, end: length, quoted: false)) != nil
      || CompiledVocabulary.same(words.header, bytes, 0, length)
  }

  /// A token found by `scanToken`: its length, its `TokenTable` hash, and
  /// the byte that ended it.
  struct ScannedToken {
    var length: Int
    var hash: UInt64
    var stop: UInt8
    /// The token ended at a space or tab.
    var isBlank: Bool { stop == 0x20 || stop == 0x09 }
  }

  /// The token at `p`: the bytes up to the first blank, line end, control
  /// byte, quote, `#` or `=`, found and hashed a word at a time; nil when
  /// that byte is not before `limit` (`readSlack` bytes past `limit` are
  /// readable).
  @inline(__always)
  static func scanToken(_ p: UnsafeRawPointer, before limit: UnsafeRawPointer) -> ScannedToken? {
    var h = TokenTable.seed
    var q = p
    while true {
      let word = UInt64(littleEndian: q.loadUnaligned(as: UInt64.self))
      let stops = stopBytes(word)
      if stops == 0 {
        h = TokenTable.mix(h, chunk: word)
        q += 8
        if q >= limit { return nil }
        continue
      }
      let j = stops.trailingZeroBitCount &>> 3
      let stop = q + j
      if stop >= limit { return nil }
      if j != 0 { h = TokenTable.mix(h, chunk: TokenTable.low(word, bytes: j)) }
      let n = stop - p
      return ScannedToken(
        length: n, hash: TokenTable.finish(h, length: n), stop: stop.load(as: UInt8.self))
    }
  }

  /// The high bit of each byte of `word` (little-endian) that ends a
  /// token: below 0x21 (blanks, line ends, control bytes), `"`, `#` or
  /// `=`. Exact for the lowest such byte (the bytes above it may be marked
  /// wrongly, by a borrow, and are never looked at).
  @inline(__always)
  static func stopBytes(_ word: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let control = (word &- ones &* 0x21) & ~word & highs
    // `"` (0x22) and `#` (0x23) are 0x23 once their low bit is set.
    let q = (word | ones) ^ (ones &* 0x23)
    let quoteOrHash = (q &- ones) & ~q & highs
    let e = word ^ (ones &* 0x3D)
    let equals = (e &- ones) & ~e & highs
    return control | quoteOrHash | equals
  }

  /// The line end of the comment at `p` (a `#` after a blank), when every
  /// byte of it is printable ASCII or a tab and the line ends before
  /// `limit`; nil otherwise (the general parser reads what else a comment
  /// may hold, and checks that the line is UTF-8).
  @inline(__always)
  static func commentEnd(_ p: UnsafeRawPointer, before limit: UnsafeRawPointer)
    -> UnsafeRawPointer?
  {
    var q = p
    while q < limit {
      let c = q.load(as: UInt8.self)
      if c == 0x0A { return q }
      if (c < 0x20 && c != 0x09) || c >= 0x7F { return nil }
      q += 1
    }
    return nil
  }

  /// The first byte from `p` that is not a space or tab, or `limit`.
  @inline(__always)
  static func skipBlanks(_ p: UnsafeRawPointer, before limit: UnsafeRawPointer) -> UnsafeRawPointer
  {
    var q = p
    while q < limit {
      let c = q.load(as: UInt8.self)
      if c != 0x20 && c != 0x09 { break }
      q += 1
    }
    return q
  }
}
