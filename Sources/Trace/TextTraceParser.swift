import LockGraph
import WaitContext

/// Parses the lines of a text trace one at a time.
///
/// Invariant: every id a line names was declared on an earlier line
/// (classes, stacks) or is created by its first use (threads).
struct TextTraceParser {
  let file: String
  private(set) var sawHeader = false
  private(set) var symbols = TraceSymbols()
  private var tokenizer = Tokenizer()
  private var classIDs = TokenTable()
  private var threadIDs = TokenTable()
  private var stackIDs = TokenTable()
  private var lineNumber: Int64 = 0

  init(file: String) { self.file = file }

  // MARK: Lines

  mutating func parse<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, number: Int64, into consumer: inout C
  ) throws(TraceError) {
    lineNumber = number
    do {
      try tokenizer.split(line)
    } catch {
      throw fail("unterminated quote")
    }
    let tokens = tokenizer.tokens
    if tokens.isEmpty { return }
    if !sawHeader {
      try parseHeader(line, tokens)
      return
    }
    let first = tokens[0]
    if Self.equals(line, first, "class") {
      try parseClass(line, tokens, into: &consumer)
    } else if Self.equals(line, first, "thread") {
      try parseThread(line, tokens, into: &consumer)
    } else if Self.equals(line, first, "module") {
      try parseModule(line, tokens)
    } else if Self.equals(line, first, "stack") {
      try parseStack(line, tokens)
    } else if Self.equals(line, first, "rawlockcheck-trace") {
      throw fail("header repeated")
    } else {
      try parseEvent(line, tokens, into: &consumer)
    }
  }

  private mutating func parseHeader(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard Self.equals(line, tokens[0], "rawlockcheck-trace") else {
      throw fail("expected header \"rawlockcheck-trace 1\"")
    }
    guard tokens.count == 2 else { throw fail("expected header \"rawlockcheck-trace 1\"") }
    let version = text(line, tokens[1])
    guard version == "1" else {
      throw fail("unsupported trace version \(version) (this reader knows version 1)")
    }
    sawHeader = true
  }

  // MARK: Declarations

  private mutating func parseClass<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    guard tokens.count >= 3, !isOption(line, tokens[1]), !isOption(line, tokens[2]) else {
      throw fail("expected \"class <id> <kind> [name=] [inner=] [outer=] [type=]\"")
    }
    let key = text(line, tokens[1])
    if Self.find(classIDs, key) != nil { throw fail("class \"\(key)\" declared twice") }
    let kindText = text(line, tokens[2])
    guard let kind = LockKind(rawValue: kindText) else {
      let known = LockKind.allCases.map(\.rawValue).joined(separator: ", ")
      throw fail("unknown lock kind \"\(Self.clip(kindText))\" (expected one of \(known))")
    }
    var name: String? = nil
    var inner: WaitType? = nil
    var outer: WaitType? = nil
    var lockType: LockType? = nil
    for token in tokens[3...] {
      let (key, value) = try option(line, token)
      switch key {
      case "name": name = value
      case "inner": inner = try waitType(value, option: "inner")
      case "outer": outer = try waitType(value, option: "outer")
      case "type":
        guard let t = LockType(traceName: value) else {
          throw fail("unknown lock type \"\(value)\" (expected normal, percpu or override)")
        }
        lockType = t
      default: throw fail("unknown option \"\(key)=\" on a class line")
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
    let id = consumer.declareClass(key: key, name: name, kind: kind, waits: waits)
    Self.insert(&classIDs, key, id.raw)
  }

  private mutating func parseThread<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    guard tokens.count >= 2, !isOption(line, tokens[1]) else {
      throw fail("expected \"thread <tid> [name=<comm>]\"")
    }
    var name: String? = nil
    for token in tokens[2...] {
      let (key, value) = try option(line, token)
      guard key == "name" else { throw fail("unknown option \"\(key)=\" on a thread line") }
      name = value
    }
    let tid = thread(line, tokens[1], consumer: &consumer)
    if let name { consumer.nameThread(tid, name) }
  }

  private mutating func parseModule(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard tokens.count >= 4 else {
      throw fail("expected \"module <start>-<end> <file-offset> <path> [build-id=<hex>]\"")
    }
    let range = text(line, tokens[1])
    let parts = range.split(separator: "-", maxSplits: 1)
    guard parts.count == 2, let start = Self.number(parts[0]), let end = Self.number(parts[1]),
      start < end
    else {
      throw fail("expected an address range <start>-<end>, got \"\(range)\"")
    }
    let offset = try number(line, tokens[2], what: "file offset")
    let path = text(line, tokens[3])
    var buildID: String? = nil
    for token in tokens[4...] {
      let (key, value) = try option(line, token)
      guard key == "build-id" else { throw fail("unknown option \"\(key)=\" on a module line") }
      guard !value.isEmpty, value.allSatisfy(\.isHexDigit) else {
        throw fail("build-id must be hexadecimal, got \"\(value)\"")
      }
      buildID = value.lowercased()
    }
    symbols.modules.append(
      ModuleRecord(start: start, end: end, fileOffset: offset, path: path, buildID: buildID))
  }

  private mutating func parseStack(_ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token])
    throws(TraceError)
  {
    guard tokens.count >= 3 else { throw fail("expected \"stack <sid> <address> ...\"") }
    let key = text(line, tokens[1])
    if Self.find(stackIDs, key) != nil { throw fail("stack \"\(key)\" declared twice") }
    var addresses: [UInt64] = []
    addresses.reserveCapacity(tokens.count - 2)
    for token in tokens[2...] { addresses.append(try number(line, token, what: "address")) }
    Self.insert(&stackIDs, key, Int32(symbols.stacks.count))
    symbols.stacks.append(addresses)
  }

  // MARK: Events

  private mutating func parseEvent<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ tokens: [Tokenizer.Token], into consumer: inout C
  ) throws(TraceError) {
    guard tokens.count >= 2 else {
      throw fail(
        "expected a declaration or \"<tid> <verb> ...\", got \"\(shown(line, tokens[0]))\"")
    }
    guard let verb = Self.verb(line, tokens[1]) else {
      throw fail("unknown verb \"\(shown(line, tokens[1]))\"")
    }
    let tid = thread(line, tokens[0], consumer: &consumer)
    var event = LockEvent(verb, thread: tid, origin: Origin(line: lineNumber))
    var next = 2
    switch verb {
    case .acquire, .release, .mightLock, .initLock:
      guard tokens.count > 2, !isOption(line, tokens[2]) else {
        throw fail("\(Self.verbName(verb)) needs a class")
      }
      event.lockClass = try lockClass(line, tokens[2])
      next = 3
    case .free:
      guard tokens.count >= 4 else { throw fail("expected \"free <addr> <length>\"") }
      event.address = try number(line, tokens[2], what: "address")
      event.length = try number(line, tokens[3], what: "length")
      next = 4
    default: break
    }
    var sawRead = false
    for token in tokens[next...] {
      if !isOption(line, token) {
        switch (verb, text(line, token)) {
        case (.acquire, "try"): event.isTrylock = true
        case (.acquire, "read") where !sawRead, (.mightLock, "read") where !sawRead:
          event.read = .shared
          sawRead = true
        case (.acquire, "read-recursive") where !sawRead:
          event.read = .recursive
          sawRead = true
        case (.hardirqEnter, "threaded"): event.threaded = true
        case (_, let word):
          throw fail("unexpected \"\(Self.clip(word))\" after \(Self.verbName(verb))")
        }
        continue
      }
      let (key, value) = try option(line, token)
      switch (verb, key) {
      case (.acquire, "sub"):
        guard let sub = Self.number(value[...]), sub <= 7 else {
          throw fail("sub= must be a subclass from 0 to 7, got \"\(value)\"")
        }
        event.subclass = UInt8(sub)
      case (.acquire, "nest"):
        event.nest = try lockClass(named: value)
      case (.acquire, "inst"), (.release, "inst"), (.initLock, "inst"):
        guard let address = Self.number(value[...]) else {
          throw fail("inst= must be an address, got \"\(value)\"")
        }
        event.address = address
      case (.acquire, "ip"), (.release, "ip"):
        guard let ip = Self.number(value[...]) else {
          throw fail("ip= must be an address, got \"\(value)\"")
        }
        event.origin.ip = ip
      case (_, "at") where verb != .hardirqEnter && !Self.isContextVerb(verb):
        event.origin.stack = try stack(named: value)
      default:
        throw fail("unknown option \"\(key)=\" for \(Self.verbName(verb))")
      }
    }
    if verb == .initLock && event.address == 0 { throw fail("init needs inst=<addr>") }
    do {
      try consumer.consume(event)
    } catch {
      throw fail(error.message)
    }
  }

  private static func isContextVerb(_ verb: LockEvent.Verb) -> Bool {
    switch verb {
    case .hardirqEnter, .hardirqExit, .softirqEnter, .softirqExit, .nmiEnter, .nmiExit,
      .irqDisable, .irqEnable, .bhDisable, .bhEnable, .preemptDisable, .preemptEnable:
      true
    default: false
    }
  }

  static let verbs: [(String, LockEvent.Verb)] = [
    ("acquire", .acquire), ("release", .release), ("might-lock", .mightLock),
    ("might-sleep", .mightSleep), ("hardirq-enter", .hardirqEnter),
    ("hardirq-exit", .hardirqExit), ("softirq-enter", .softirqEnter),
    ("softirq-exit", .softirqExit), ("nmi-enter", .nmiEnter), ("nmi-exit", .nmiExit),
    ("irq-disable", .irqDisable), ("irq-enable", .irqEnable), ("bh-disable", .bhDisable),
    ("bh-enable", .bhEnable), ("preempt-disable", .preemptDisable),
    ("preempt-enable", .preemptEnable), ("init", .initLock), ("free", .free), ("exit", .exit),
  ]
  static let verbBytes: [([UInt8], LockEvent.Verb)] = verbs.map { (Array($0.0.utf8), $0.1) }

  static func verbName(_ verb: LockEvent.Verb) -> String {
    verbs.first { $0.1 == verb }!.0
  }

  private static func verb(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token)
    -> LockEvent.Verb?
  {
    let length = token.end - token.start
    for (bytes, verb) in verbBytes where bytes.count == length {
      let same = bytes.withUnsafeBytes { b in
        memcmpBytes(b.baseAddress!, line.baseAddress! + token.start, length)
      }
      if same { return verb }
    }
    return nil
  }

  // MARK: Token helpers

  private func fail(_ message: String) -> TraceError {
    TraceError(file: file, line: lineNumber, message: message)
  }

  /// A token as an error message quotes it: at most 64 characters.
  private func shown(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> String {
    Self.clip(text(line, token))
  }

  static func clip(_ s: String) -> String {
    s.count <= 64 ? s : String(s.prefix(61)) + "..."
  }

  private static func equals(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, _ word: StaticString
  ) -> Bool {
    let length = token.end - token.start
    guard length == word.utf8CodeUnitCount, !token.quoted else { return false }
    return memcmpBytes(word.utf8Start, line.baseAddress! + token.start, length)
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
    var i = token.start
    while i < token.end {
      let c = line[i]
      if c == 0x3D { return i > token.start }
      if c == 0x22 { return false }
      i += 1
    }
    return false
  }

  private func option(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) throws(TraceError)
    -> (String, String)
  {
    guard isOption(line, token) else {
      throw fail("expected key=value, got \"\(shown(line, token))\"")
    }
    var i = token.start
    while line[i] != 0x3D { i += 1 }
    let key = String(
      decoding: UnsafeRawBufferPointer(rebasing: line[token.start..<i]), as: UTF8.self)
    let value =
      token.quoted
      ? Tokenizer.text(line, i + 1, token.end)
      : String(decoding: UnsafeRawBufferPointer(rebasing: line[(i + 1)..<token.end]), as: UTF8.self)
    return (key, value)
  }

  private func waitType(_ value: String, option: String) throws(TraceError) -> WaitType {
    guard let w = WaitType(traceName: value) else {
      throw fail("\(option)= must be inv, free, spin, config or sleep, got \"\(value)\"")
    }
    return w
  }

  private func number(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, what: String)
    throws(TraceError) -> UInt64
  {
    guard let n = Self.parseNumber(bytes(line, token)) else {
      throw fail("expected a number for \(what), got \"\(shown(line, token))\"")
    }
    return n
  }

  static func number(_ s: Substring) -> UInt64? {
    var copy = String(s)
    return copy.withUTF8 { Self.parseNumber(UnsafeRawBufferPointer($0)) }
  }

  /// Decimal, or hexadecimal with `0x`; nil on anything else or overflow.
  static func parseNumber(_ b: UnsafeRawBufferPointer) -> UInt64? {
    if b.isEmpty { return nil }
    var value: UInt64 = 0
    if b.count > 2 && b[0] == 0x30 && (b[1] == 0x78 || b[1] == 0x58) {
      for c in b[2...] {
        let digit: UInt64
        switch c {
        case 0x30...0x39: digit = UInt64(c - 0x30)
        case 0x61...0x66: digit = UInt64(c - 0x61 + 10)
        case 0x41...0x46: digit = UInt64(c - 0x41 + 10)
        default: return nil
        }
        if value >> 60 != 0 { return nil }
        value = value << 4 | digit
      }
      return value
    }
    for c in b {
      guard c >= 0x30 && c <= 0x39 else { return nil }
      let (m, o1) = value.multipliedReportingOverflow(by: 10)
      let (s, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
      if o1 || o2 { return nil }
      value = s
    }
    return value
  }

  private mutating func thread<C: TraceConsumer>(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, consumer: inout C
  ) -> ThreadID {
    if !token.quoted, let id = threadIDs.find(bytes(line, token)) { return ThreadID(id) }
    let name = text(line, token)
    if let id = Self.find(threadIDs, name) { return ThreadID(id) }
    let id = consumer.declareThread(token: name, name: nil)
    Self.insert(&threadIDs, name, id.raw)
    return id
  }

  private func lockClass(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token)
    throws(TraceError) -> ClassID
  {
    if !token.quoted, let id = classIDs.find(bytes(line, token)) { return ClassID(id) }
    return try lockClass(named: text(line, token))
  }

  static func find(_ table: TokenTable, _ key: String) -> Int32? {
    var copy = key
    return copy.withUTF8 { table.find(UnsafeRawBufferPointer($0)) }
  }

  static func insert(_ table: inout TokenTable, _ key: String, _ value: Int32) {
    var copy = key
    copy.withUTF8 { table.insert(UnsafeRawBufferPointer($0), value: value) }
  }

  private func lockClass(named name: String) throws(TraceError) -> ClassID {
    let found = Self.find(classIDs, name)
    guard let found else { throw fail("unknown class \"\(Self.clip(name))\"") }
    return ClassID(found)
  }

  private func stack(named name: String) throws(TraceError) -> StackID {
    let found = Self.find(stackIDs, name)
    guard let found else { throw fail("unknown stack \"\(Self.clip(name))\"") }
    return StackID(found)
  }
}
