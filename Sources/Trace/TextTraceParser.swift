import Basics
import LockGraph
import WaitContext

/// Parses the lines of a text trace one at a time.
///
/// Invariant: every id a line names was declared on an earlier line
/// (classes, stacks) or is created by its first use (threads).
struct TextTraceParser: ~Copyable {
  let file: String
  private(set) var sawHeader = false
  private(set) var symbols = TraceSymbols()
  private var tokenizer = Tokenizer()
  var classIDs = TokenTable()
  var threadIDs = TokenTable()
  var stackIDs = TokenTable()
  /// The line being parsed (for errors), or the last line the event loop parsed.
  var lineNumber: Int64 = 0
  let words = CompiledVocabulary.shared
  /// Events parsed and not yet consumed, with their line numbers.
  var batch = EventBatch()

  /// Whether the last line refused was refused by the consumer, not by
  /// the parser (a class a merged trace declared as another kind): set
  /// by `parse`, for `mayBeCut`.
  private(set) var lastRefusalWasTheConsumers = false

  init(file: String) { self.file = file }

  /// The first line where a `#` follows a token with no blank between
  /// (`name=&p->lock#2`), and that token: the `#` starts a comment, so the
  /// token is cut there, as the spec says, and a reader warns once about
  /// what is most likely a name that needed quotes.
  var glued: (line: Int64, token: String)? = nil

  /// Hands the parsed events to `consumer`; a refused event is an error at
  /// its line. Called before any declaration reaches the consumer, before
  /// an error is thrown, and at the end.
  mutating func flush<C: TraceConsumer>(into consumer: inout C) throws(TraceError) {
    if let refused = batch.flush(into: &consumer) {
      throw TraceError(file: file, line: refused.position, message: refused.error.message)
    }
  }

  // MARK: Lines

  /// Line `number` of a text file (a trace, a graph file) without the
  /// UTF-8 byte order mark that may start the file (as some Windows tools
  /// write UTF-8): it is not part of the text.
  static func withoutByteOrderMark(_ whole: UnsafeRawBufferPointer, number: Int64)
    -> UnsafeRawBufferPointer
  {
    number == 1 && whole.starts(with: [0xEF, 0xBB, 0xBF])
      ? UnsafeRawBufferPointer(rebasing: whole[3...]) : whole
  }

  mutating func parse<C: TraceConsumer>(
    _ whole: UnsafeRawBufferPointer, number: Int64, into consumer: inout C
  ) throws(TraceError) {
    lineNumber = number
    lastRefusalWasTheConsumers = false
    let line = Self.withoutByteOrderMark(whole, number: number)
    if !sawHeader && number == 1 && BinaryTraceFormat.startsWithMagic(line) {
      throw fail(
        "a binary trace (it starts with \"RLCT\"): read it with TraceReader, which tells the encodings apart"
      )
    }
    do {
      try tokenizer.split(line)
    } catch {
      // Before the header, a line that is not blank or a comment is wrong
      // first of all for not being the header (a file of another kind).
      if !sawHeader { throw fail("expected header \"rawlockcheck-trace 1\"") }
      throw fail(error.message)
    }
    let tokens = tokenizer.tokens
    if tokens.isEmpty { return }
    // A text trace is UTF-8: a line the event loop left whose tokens are
    // not (two different byte strings would otherwise read as one name,
    // U+FFFD). Its comment may hold anything.
    let written = UnsafeRawBufferPointer(rebasing: line[..<tokens[tokens.count - 1].end])
    if sawHeader, written.contains(where: { $0 >= 0x80 }),
      String(validating: written, as: UTF8.self) == nil
    {
      throw fail("not valid UTF-8")
    }
    if glued == nil, let last = tokens.last, !last.quoted, last.end < line.count,
      line[last.end] == 0x23
    {
      glued = (number, text(line, last))
    }
    if !sawHeader {
      try parseHeader(line, tokens)
      return
    }
    let first = tokens[0]
    if let declaration = words.declaration(line, first) {
      switch declaration {
      case .lockClass: try parseClass(line, tokens, into: &consumer)
      case .thread: try parseThread(line, tokens, into: &consumer)
      case .module: try parseModule(line, tokens)
      case .stack: try parseStack(line, tokens)
      }
    } else if Self.equals(line, first, words.header), tokens.count == 2,
      NumberText.parse(UnsafeRawBufferPointer(rebasing: line[tokens[1].start..<tokens[1].end]))
        != nil
    {
      // A second header (traces concatenated). A thread may be called
      // `rawlockcheck-trace` (spec: only the first line is the header):
      // its events have a verb where the header has its version.
      throw fail("header repeated")
    } else {
      try parseEvent(line, tokens, into: &consumer)
    }
  }

  private mutating func parseHeader(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard Self.equals(line, tokens[0], words.header) else {
      throw fail("expected header \"rawlockcheck-trace 1\"")
    }
    guard tokens.count >= 2 else { throw fail("expected header \"rawlockcheck-trace 1\"") }
    let version = text(line, tokens[1])
    // The version is a number as any other (`0x1`, `01`: version 1).
    var digits = version
    let number = digits.withUTF8 { NumberText.parse(UnsafeRawBufferPointer($0)) }
    guard version == TraceVocabulary.version || number.map(String.init) == TraceVocabulary.version
    else {
      throw fail("unsupported trace version \(Self.clip(version)) (this reader knows version 1)")
    }
    // Version 1's header is two words; a later version may say more.
    guard tokens.count == 2 else { throw fail("expected header \"rawlockcheck-trace 1\"") }
    sawHeader = true
  }

  // MARK: Declarations

  private mutating func parseClass<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    // An id that reads as an option (`a=b`) is written in quotes, as in
    // the events that name it, where a class is followed by options.
    if tokens.count >= 3, isOption(line, tokens[1]), !isOption(line, tokens[2]) {
      throw fail(
        "class id \"\(Self.clip(text(line, tokens[1])))\" holds '=': write it in quotes, "
          + "here and in the events that name it")
    }
    guard tokens.count >= 3, !isOption(line, tokens[1]), !isOption(line, tokens[2]) else {
      throw fail("expected \"\(TraceVocabulary.rule(for: .lockClass).synopsis)\"")
    }
    let key = text(line, tokens[1])
    if classIDs.find(key) != nil {
      throw fail("class \"\(Self.clip(key))\" declared twice")
    }
    let kindText = text(line, tokens[2])
    guard let kind = LockKind(rawValue: kindText) else {
      let known = LockKind.allCases.map(\.rawValue).joined(separator: ", ")
      throw fail("unknown lock kind \"\(Self.clip(kindText))\" (expected one of \(known))")
    }
    var name: String? = nil
    var inner: WaitType? = nil
    var outer: WaitType? = nil
    var lockType: LockType? = nil
    var seen: UInt32 = 0
    for token in tokens[3...] {
      let (key, value) = try option(line, token, on: .lockClass, seen: &seen)
      switch key {
      case "name": name = value
      case "inner": inner = try waitType(value, option: "inner")
      case "outer": outer = try waitType(value, option: "outer")
      case "type":
        guard let t = LockType(traceName: value) else {
          throw fail(
            "unknown lock type \"\(Self.clip(value))\" (expected normal, percpu or override)")
        }
        lockType = t
      default: preconditionFailure("class option \(key)= is in the vocabulary but not read")
      }
    }
    let waits: ClassWaitTypes
    do {
      waits = try ClassWaitTypes(kind: kind, inner: inner, outer: outer, lockType: lockType)
    } catch {
      switch error {
      case .innerRequired(let k): throw fail("a \(k.rawValue) class needs inner=")
      case .lockTypeFixed(let k):
        throw fail("a \(k.rawValue) class has lock type \(k.row.lockType!), not type=\(lockType!)")
      }
    }
    try flush(into: &consumer)
    let id: ClassID
    do {
      id = try consumer.declareClass(
        key: key, name: name, kind: kind, waits: waits, site: "\(file):\(lineNumber)")
    } catch {
      lastRefusalWasTheConsumers = true
      throw fail(error.message)
    }
    classIDs.insert(key, value: id.raw)
  }

  private mutating func parseThread<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    guard tokens.count >= 2, !isOption(line, tokens[1]) else {
      throw fail("expected \"\(TraceVocabulary.rule(for: .thread).synopsis)\"")
    }
    var name: String? = nil
    var seen: UInt32 = 0
    for token in tokens[2...] {
      (_, name) = try option(line, token, on: .thread, seen: &seen)
    }
    let tid = try thread(line, tokens[1], consumer: &consumer)
    if let name {
      if !consumer.takesThreadsAhead { try flush(into: &consumer) }
      do {
        try consumer.nameThread(tid, name)
      } catch {
        lastRefusalWasTheConsumers = true
        throw fail(error.message)
      }
    }
  }

  private mutating func parseModule(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard tokens.count >= 4 else {
      throw fail("expected \"\(TraceVocabulary.rule(for: .module).synopsis)\"")
    }
    let range = text(line, tokens[1])
    let parts = range.split(separator: "-", maxSplits: 1)
    guard parts.count == 2, let start = NumberText.parse(parts[0].utf8),
      let end = NumberText.parse(parts[1].utf8),
      start < end
    else {
      throw fail("expected an address range <start>-<end>, got \"\(Self.clip(range))\"")
    }
    let offset = try number(line, tokens[2], what: "file offset")
    let path = text(line, tokens[3])
    // The option where the path belongs: the path was left out (a file
    // named so is written in quotes).
    if !tokens[3].quoted && path.hasPrefix("build-id=") {
      throw fail("expected a path before \(Self.clip(path))")
    }
    var buildID: String? = nil
    var seen: UInt32 = 0
    for token in tokens[4...] {
      let (_, value) = try option(line, token, on: .module, seen: &seen)
      if let problem = TraceVocabulary.buildIDProblem(value) { throw fail(problem) }
      buildID = value.lowercased()
    }
    symbols.addModule(
      ModuleRecord(start: start, end: end, fileOffset: offset, path: path, buildID: buildID))
  }

  private mutating func parseStack(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard tokens.count >= 3 else {
      throw fail("expected \"\(TraceVocabulary.rule(for: .stack).synopsis)\"")
    }
    let key = text(line, tokens[1])
    if stackIDs.find(key) != nil {
      throw fail("stack \"\(Self.clip(key))\" declared twice")
    }
    // The binary encoding's limit, so that every text trace converts.
    let depth = tokens.count - 2
    guard depth <= BinaryTraceFormat.maxStackDepth else {
      throw fail("a stack of \(depth) addresses; at most \(BinaryTraceFormat.maxStackDepth)")
    }
    var addresses: [UInt64] = []
    addresses.reserveCapacity(tokens.count - 2)
    for token in tokens[2...] { addresses.append(try number(line, token, what: "address")) }
    stackIDs.insert(key, value: symbols.internStack(addresses))
  }

  // MARK: Events

  /// An event line, checked against its verb's row of `TraceVocabulary.events`.
  private mutating func parseEvent<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    guard tokens.count >= 2 else {
      throw fail(
        "expected a declaration or \"<tid> <verb> ...\", got \"\(shown(line, tokens[0]))\"")
    }
    guard let verb = words.verb(line, tokens[1]) else {
      throw fail("unknown verb \"\(shown(line, tokens[1]))\"")
    }
    let rule = words.verbs[Int(verb.rawValue)]
    let tid = try thread(line, tokens[0], consumer: &consumer)
    var event = LockEvent(verb, thread: tid, origin: Origin(line: lineNumber))
    var next = 2
    switch rule.operand {
    case .none: break
    case .lockClass:
      guard tokens.count > 2 else { throw fail("\(words.name(verb)) needs a class") }
      guard !isOption(line, tokens[2]) else {
        throw fail(
          "\(words.name(verb)) needs a class before its options, got \"\(shown(line, tokens[2]))\"")
      }
      event.lockClass = try lockClass(line, tokens[2])
      next = 3
    case .addressAndLength:
      guard tokens.count >= 4 else {
        throw fail("expected \"\(words.name(verb)) <addr> <length>\"")
      }
      event.address = try number(line, tokens[2], what: "address")
      event.length = try number(line, tokens[3], what: "length")
      next = 4
    }
    var groups: UInt32 = 0
    var seenFlags: UInt32 = 0
    var seenOptions: UInt32 = 0
    var index = next
    while index < tokens.count {
      let token = tokens[index]
      index += 1
      guard let equals = optionEquals(line, token) else {
        guard let flag = words.flag(line, token, among: rule.flags) else {
          throw fail("unexpected \"\(shown(line, token))\" after \(words.name(verb))")
        }
        guard Self.claim(&seenFlags, flag.rawValue &+ 1) else {
          throw fail("repeated flag \(TraceVocabulary.rule(for: flag).spelling)")
        }
        guard Self.claim(&groups, words.flagGroups[Int(flag.rawValue)]) else {
          throw fail("unexpected \"\(shown(line, token))\" after \(words.name(verb))")
        }
        TraceVocabulary.store(flag, in: &event)
        continue
      }
      guard let option = words.option(line, token.start, equals, among: rule.options) else {
        let key = String(
          decoding: UnsafeRawBufferPointer(rebasing: line[token.start..<equals]), as: UTF8.self)
        throw fail("unknown option \"\(Self.clip(key))=\" for \(words.name(verb))")
      }
      guard Self.claim(&seenOptions, option.rawValue &+ 1) else {
        throw fail("repeated option \(TraceVocabulary.rule(for: option).key)=")
      }
      let value = try optionValue(option, line, token, equals)
      TraceVocabulary.store(option, value, in: &event)
    }
    if let missing = TraceVocabulary.missingOption(of: event, required: rule.required) {
      throw fail("\(words.name(verb)) needs \(missing)")
    }
    append(event, number: lineNumber)
    if batch.isFull { try flush(into: &consumer) }
  }

  /// Adds a parsed event to the batch (which has room: it is flushed as
  /// soon as it is full).
  @inline(__always)
  mutating func append(_ event: LockEvent, number: Int64) {
    batch.append(event, at: number)
  }

  /// Marks a flag's exclusive group as used; false when it already was.
  @inline(__always)
  static func claim(_ groups: inout UInt32, _ group: UInt8) -> Bool {
    if group == 0 { return true }
    let bit: UInt32 = 1 << (group & 31)
    if groups & bit != 0 { return false }
    groups |= bit
    return true
  }

  /// Reads an option's value as its row's value kind says.
  private func optionValue(
    _ option: EventOption, _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token,
    _ equals: Int
  ) throws(TraceError) -> OptionValue {
    let raw = UnsafeRawBufferPointer(rebasing: line[(equals + 1)..<token.end])
    let rule = TraceVocabulary.rule(for: option)
    /// The value as text: unescaped when quoted.
    func value() -> String {
      token.quoted
        ? Tokenizer.text(line, equals + 1, token.end) : String(decoding: raw, as: UTF8.self)
    }
    func parsed() -> UInt64? {
      token.quoted ? NumberText.parse(value().utf8) : NumberText.parse(raw)
    }
    switch rule.value {
    case .subclass:
      guard let sub = parsed(), sub <= TraceVocabulary.maxSubclass else {
        throw fail(
          "\(rule.key)= must be a subclass from 0 to \(TraceVocabulary.maxSubclass), "
            + "got \"\(Self.clip(value()))\"")
      }
      return .number(sub)
    case .address:
      guard let address = parsed() else {
        throw fail("\(rule.key)= must be an address, got \"\(Self.clip(value()))\"")
      }
      return .number(address)
    case .lockClass:
      if !token.quoted, let id = classIDs.find(raw) { return .lockClass(ClassID(id)) }
      return .lockClass(try lockClass(named: value()))
    case .stack:
      if !token.quoted, let id = stackIDs.find(raw) { return .stack(StackID(id)) }
      return .stack(try stack(named: value()))
    }
  }

  /// Whether `candidate`, a line after the lines read so far, reads: nil,
  /// or the message it is refused with. It is a trial (`mayBeCut`): its
  /// events reach no consumer and the symbols are as before; what it
  /// declares may stay in the tables of ids.
  mutating func trial(_ candidate: [UInt8]) -> String? {
    let saved = symbols
    defer { symbols = saved }
    var discarding = DiscardingConsumer()
    return candidate.withUnsafeBytes { bytes -> String? in
      do throws(TraceError) {
        try parse(bytes, number: lineNumber, into: &discarding)
        try flush(into: &discarding)
        return nil
      } catch {
        _ = batch.flush(into: &discarding)
        return error.message
      }
    }
  }

  // MARK: Token helpers

  private func fail(_ message: String) -> TraceError {
    TraceError(file: file, line: lineNumber, message: message)
  }

  /// A token as an error message quotes it: at most 64 characters.
  private func shown(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> String {
    Self.clip(text(line, token))
  }

  /// Text from the trace as a message quotes it (`QuotedText.shown`).
  static func clip(_ s: String) -> String { QuotedText.shown(s) }

  /// A byte of the line as a message shows it: itself when printable
  /// ASCII, else its escape (`\u{1B}`; `\x{C3}` for a byte of a longer
  /// UTF-8 sequence).
  static func shown(_ byte: UInt8) -> String {
    byte < 0x80
      ? QuotedText.shown(String(Unicode.Scalar(byte)))
      : "\\x{" + String(byte, radix: 16, uppercase: true) + "}"
  }

  private static func equals(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, _ word: [UInt8]
  ) -> Bool {
    let length = token.end - token.start
    guard length == word.count, !token.quoted else { return false }
    return word.withUnsafeBytes {
      memcmpBytes($0.baseAddress!, line.baseAddress! + token.start, length)
    }
  }

  private func bytes(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token)
    -> UnsafeRawBufferPointer
  {
    UnsafeRawBufferPointer(rebasing: line[token.start..<token.end])
  }

  private func text(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> String {
    if token.quoted { return Tokenizer.text(line, token.start, token.end) }
    return String(decoding: bytes(line, token), as: UTF8.self)
  }

  /// A `key=value` token: '=' before any quote.
  private func isOption(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> Bool {
    optionEquals(line, token) != nil
  }

  /// The index of a `key=value` token's '=' (before any quote, not first),
  /// or nil when the token is not an option.
  @inline(__always)
  private func optionEquals(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> Int? {
    var i = token.start
    while i < token.end {
      let c = line[i]
      if c == 0x3D { return i > token.start ? i : nil }
      if c == 0x22 { return nil }
      i += 1
    }
    return nil
  }

  /// A declaration's `key=value` token, whose key its row must list and
  /// `seen` (one bit per key of the row) must not hold yet.
  private func option(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, on declaration: Declaration,
    seen: inout UInt32
  ) throws(TraceError) -> (String, String) {
    guard let i = optionEquals(line, token) else {
      throw fail("expected key=value, got \"\(shown(line, token))\"")
    }
    let key = String(
      decoding: UnsafeRawBufferPointer(rebasing: line[token.start..<i]), as: UTF8.self)
    let rule = TraceVocabulary.rule(for: declaration)
    guard let index = rule.options.firstIndex(of: key) else {
      throw fail("unknown option \"\(Self.clip(key))=\" on a \(rule.spelling) line")
    }
    guard Self.claim(&seen, UInt8(index + 1)) else { throw fail("repeated option \(key)=") }
    let value =
      token.quoted
      ? Tokenizer.text(line, i + 1, token.end)
      : String(decoding: UnsafeRawBufferPointer(rebasing: line[(i + 1)..<token.end]), as: UTF8.self)
    return (key, value)
  }

  private func waitType(_ value: String, option: String) throws(TraceError) -> WaitType {
    guard let w = WaitType(traceName: value) else {
      throw fail(
        "\(option)= must be inv, free, spin, config or sleep (or 0 to 4), got \"\(Self.clip(value))\""
      )
    }
    return w
  }

  private func number(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, what: String)
    throws(TraceError) -> UInt64
  {
    guard let n = NumberText.parse(bytes(line, token)) else {
      throw fail("expected a number for \(what), got \"\(shown(line, token))\"")
    }
    return n
  }

  private mutating func thread<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, consumer: inout C
  ) throws(TraceError) -> ThreadID {
    if !token.quoted, let id = threadIDs.find(bytes(line, token)) { return ThreadID(id) }
    let name = text(line, token)
    if let id = threadIDs.find(name) { return ThreadID(id) }
    if !consumer.takesThreadsAhead { try flush(into: &consumer) }
    let id: ThreadID
    do {
      id = try consumer.declareThread(token: name, name: nil)
    } catch {
      lastRefusalWasTheConsumers = true
      throw fail(error.message)
    }
    threadIDs.insert(name, value: id.raw)
    return id
  }

  private func lockClass(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token)
    throws(TraceError) -> ClassID
  {
    if !token.quoted, let id = classIDs.find(bytes(line, token)) { return ClassID(id) }
    return try lockClass(named: text(line, token))
  }

  private func lockClass(named name: String) throws(TraceError) -> ClassID {
    let found = classIDs.find(name)
    guard let found else { throw fail("unknown class \"\(Self.clip(name))\"") }
    return ClassID(found)
  }

  private func stack(named name: String) throws(TraceError) -> StackID {
    let found = stackIDs.find(name)
    guard let found else { throw fail("unknown stack \"\(Self.clip(name))\"") }
    return StackID(found)
  }
}

/// A consumer that takes every declaration and event and keeps nothing:
/// the parser's trials of a last line (`TextTraceParser.trial`).
struct DiscardingConsumer: TraceConsumer {
  mutating func declareClass(key: String, name: String?, kind: LockKind, waits: ClassWaitTypes)
    -> ClassID
  { ClassID(0) }
  mutating func declareThread(token: String, name: String?) -> ThreadID { ThreadID(0) }
  mutating func nameThread(_ id: ThreadID, _ name: String) {}
  mutating func consume(_ event: LockEvent) {}
  var takesThreadsAhead: Bool { true }
}
