import Basics
import LockGraph
import WaitContext

/// The tokens a trace names its classes, threads and stacks by, indexed by
/// id, already quoted for writing.
///
/// An id nobody declared is written as a fallback: a thread by its number
/// (a thread needs no declaration), a stack as `s<n>`, a class as `?<n>`
/// (which a reader rejects as an unknown class unless it was declared).
public struct TraceTokens: Sendable {
  private var classes: [[UInt8]] = []
  private var threads: [[UInt8]] = []
  private var stacks: [[UInt8]] = []

  /// No tokens yet.
  public init() {}

  /// Records the token of a class.
  public mutating func setClass(_ id: ClassID, _ token: String) {
    Self.set(&classes, Int(id.raw), token)
  }

  /// Records the token of a thread.
  public mutating func setThread(_ id: ThreadID, _ token: String) {
    Self.set(&threads, Int(id.raw), token)
  }

  /// Records the token of a stack.
  public mutating func setStack(_ id: StackID, _ token: String) {
    Self.set(&stacks, Int(id.raw), token)
  }

  private static func set(_ table: inout [[UInt8]], _ index: Int, _ token: String) {
    precondition(index >= 0, "ids are not negative")
    if table.count <= index {
      table.append(contentsOf: repeatElement([], count: index + 1 - table.count))
    }
    var encoded: [UInt8] = []
    TextTraceWriter.appendToken(token, to: &encoded)
    table[index] = encoded
  }

  func appendClass(_ id: ClassID, to out: inout [UInt8]) {
    Self.append(classes, Int(id.raw), fallback: "?", to: &out)
  }

  func appendThread(_ id: ThreadID, to out: inout [UInt8]) {
    Self.append(threads, Int(id.raw), fallback: "", to: &out)
  }

  func appendStack(_ id: StackID, to out: inout [UInt8]) {
    Self.append(stacks, Int(id.raw), fallback: "s", to: &out)
  }

  @inline(__always)
  private static func append(
    _ table: [[UInt8]], _ index: Int, fallback prefix: String, to out: inout [UInt8]
  ) {
    if index >= 0 && index < table.count && !table[index].isEmpty {
      out.append(contentsOf: table[index])
    } else {
      out.append(contentsOf: prefix.utf8)
      NumberText.appendDecimal(
        UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: index))), to: &out)
    }
  }
}

/// Writes a version-1 text trace (`spec/trace-format.md`) into a byte buffer
/// that its owner flushes when it likes: every line `TextTraceParser` reads,
/// driven by the same `TraceVocabulary`.
///
/// A value type, so a recorder can keep one per thread: give each the
/// shared `tokens` (`init(tokens:)`, or assign `tokens` again after a new
/// declaration), write events into it, and `flush` the bytes to the file
/// under the recorder's lock. Declarations are written by whichever writer
/// is told about them; they must reach the file before the first event
/// that names them.
public struct TextTraceWriter: Sendable {
  /// The text written and not yet flushed.
  public private(set) var bytes: [UInt8] = []
  /// How many bytes are written and not yet taken.
  public var byteCount: Int { bytes.count }
  /// The tokens of the classes, threads and stacks declared so far.
  public var tokens: TraceTokens

  /// An empty writer that names ids by `tokens`.
  public init(tokens: TraceTokens = TraceTokens(), capacity: Int = 0) {
    self.tokens = tokens
    bytes.reserveCapacity(capacity)
  }

  // MARK: Buffer

  /// Hands the buffered text to `write` and empties the buffer (keeping its
  /// capacity). When `write` throws, the text stays in the buffer.
  public mutating func flush<E: Error>(_ write: (UnsafeRawBufferPointer) throws(E) -> Void)
    throws(E)
  {
    unnamedThreadLine = nil
    try TraceBuffer.flush(&bytes, write)
  }

  /// The buffered text, leaving the buffer empty.
  public mutating func take() -> [UInt8] {
    unnamedThreadLine = nil
    defer { bytes = [] }
    return bytes
  }

  /// The buffered text as a string.
  public var text: String { String(decoding: bytes, as: UTF8.self) }

  // MARK: Lines

  /// `rawlockcheck-trace 1`.
  public mutating func header() {
    bytes.append(contentsOf: TraceVocabulary.headerWord.utf8)
    bytes.append(0x20)
    bytes.append(contentsOf: TraceVocabulary.version.utf8)
    bytes.append(0x0A)
  }

  /// A `class` line. `inner=`, `outer=` and `type=` are written only where
  /// `waits` differs from what the kind gives, so the line reads back to
  /// the same `ClassWaitTypes` (except an unset outer on a kind whose
  /// outer is set, the RCU kinds: it is written as `outer=` its inner,
  /// which checks the same). The name is written whenever it is given.
  /// - Throws: when the key or the name holds a character a text trace
  ///   cannot hold (`unwritable(_:)`); nothing is written then.
  public mutating func declareClass(
    id: ClassID, key: String, name: String?, kind: LockKind, waits: ClassWaitTypes
  ) throws(TraceWriteError) {
    try Self.check(key, "class", key, "id")
    if let name { try Self.check(name, "class", key, "name") }
    try Self.checkTokenLength(key, "class")
    let start = bytes.count
    tokens.setClass(id, key)
    word(.lockClass)
    bytes.append(0x20)
    tokens.appendClass(id, to: &bytes)
    bytes.append(0x20)
    bytes.append(contentsOf: kind.rawValue.utf8)
    if let name { option("name", name) }
    let row = kind.row
    if row.inner != waits.inner { option("inner", waits.inner.description) }
    if let outer = waits.outer {
      if outer != row.outer { option("outer", outer.description) }
    } else if row.outer != nil {
      option("outer", waits.inner.description)
    }
    if waits.lockType != (row.lockType ?? .normal) {
      option("type", waits.lockType.description)
    }
    bytes.append(0x0A)
    if let length = takeBackLongLine(from: start) {
      throw Self.lineTooLong("class", key, length)
    }
  }

  /// A `thread` line, which also fixes the thread's token.
  /// - Throws: when the token or the name holds a character a text trace
  ///   cannot hold (`unwritable(_:)`); nothing is written then.
  public mutating func declareThread(id: ThreadID, token: String, name: String?)
    throws(TraceWriteError)
  {
    try Self.check(token, "thread", token, "id")
    if let name { try Self.check(name, "thread", token, "name") }
    try Self.checkTokenLength(token, "thread")
    let start = bytes.count
    tokens.setThread(id, token)
    threadLine(id, name)
    if let length = takeBackLongLine(from: start) {
      throw Self.lineTooLong("thread", token, length)
    }
  }

  /// A `thread` line that names a thread already declared.
  /// - Throws: when the name holds a character a text trace cannot hold
  ///   (`unwritable(_:)`); nothing is written then.
  public mutating func nameThread(_ id: ThreadID, _ name: String) throws(TraceWriteError) {
    if let bad = Self.unwritable(name) {
      throw Self.refusal("thread", threadToken(id), "name", bad)
    }
    if let unnamed = unnamedThreadLine, unnamed.thread == id, unnamed.end == bytes.count {
      // The thread's own declaration, just written without a name (a
      // binary trace names a thread in a record of its own): one line.
      bytes.removeLast()
      option("name", name)
      bytes.append(0x0A)
      let length = bytes.count - unnamed.start - 1
      if length > Self.maxLineLength {
        // The declaration as it was.
        bytes.removeSubrange((unnamed.end - 1)...)
        bytes.append(0x0A)
        throw Self.lineTooLong("thread", threadToken(id), length)
      }
      unnamedThreadLine = nil
      return
    }
    let start = bytes.count
    threadLine(id, name)
    if let length = takeBackLongLine(from: start) {
      throw Self.lineTooLong("thread", threadToken(id), length)
    }
  }

  /// Thread `id`'s token as written, for messages.
  private func threadToken(_ id: ThreadID) -> String {
    var token: [UInt8] = []
    tokens.appendThread(id, to: &token)
    return String(decoding: token, as: UTF8.self)
  }

  /// The last line written, when it is a `thread` line without a name: its
  /// thread, and where the buffer started and ended around it.
  private var unnamedThreadLine: (thread: ThreadID, start: Int, end: Int)?

  private mutating func threadLine(_ id: ThreadID, _ name: String?) {
    let start = bytes.count
    word(.thread)
    bytes.append(0x20)
    tokens.appendThread(id, to: &bytes)
    if let name { option("name", name) }
    bytes.append(0x0A)
    unnamedThreadLine = name == nil ? (id, start, bytes.count) : nil
  }

  /// A `module` line.
  /// - Throws: when the path or build-id holds a character a text trace
  ///   cannot hold (`unwritable(_:)`); nothing is written then.
  public mutating func module(_ module: ModuleRecord) throws(TraceWriteError) {
    try Self.check(module.path, "module", module.path, "path")
    if let buildID = module.buildID { try Self.check(buildID, "module", module.path, "build-id") }
    let start = bytes.count
    word(.module)
    bytes.append(0x20)
    NumberText.appendHex(module.start, to: &bytes)
    bytes.append(0x2D)
    NumberText.appendHex(module.end, to: &bytes)
    bytes.append(0x20)
    NumberText.appendHex(module.fileOffset, to: &bytes)
    bytes.append(0x20)
    Self.appendToken(module.path, to: &bytes)
    if let buildID = module.buildID { option("build-id", buildID) }
    bytes.append(0x0A)
    if let length = takeBackLongLine(from: start) {
      throw Self.lineTooLong("module", module.path, length)
    }
  }

  /// A `stack` line, innermost address first. The token defaults to
  /// `s<id>`. A stack needs at least one address; an empty one is not written.
  public mutating func stack(id: StackID, token: String? = nil, addresses: [UInt64]) {
    tokens.setStack(id, token ?? "s\(id.raw)")
    if addresses.isEmpty { return }
    word(.stack)
    bytes.append(0x20)
    tokens.appendStack(id, to: &bytes)
    for address in addresses {
      bytes.append(0x20)
      NumberText.appendHex(address, to: &bytes)
    }
    bytes.append(0x0A)
  }

  /// An event line: the thread, the verb, its operand, then the flags and
  /// options its row of `TraceVocabulary.events` accepts and the event
  /// carries. Fields the verb cannot carry are not written.
  public mutating func event(_ event: LockEvent) {
    let rule = TraceVocabulary.rule(for: event.verb)
    tokens.appendThread(event.thread, to: &bytes)
    bytes.append(0x20)
    bytes.append(contentsOf: rule.spelling.utf8)
    switch rule.operand {
    case .none: break
    case .lockClass:
      bytes.append(0x20)
      tokens.appendClass(event.lockClass, to: &bytes)
    case .addressAndLength:
      bytes.append(0x20)
      NumberText.appendHex(event.address, to: &bytes)
      bytes.append(0x20)
      NumberText.appendDecimal(event.length, to: &bytes)
    }
    if !rule.flags.isEmpty {
      for flag in TraceVocabulary.flags where rule.flags.contains(EventFlags(flag.flag)) {
        if flag.isSet(event) {
          bytes.append(0x20)
          bytes.append(contentsOf: flag.spelling.utf8)
        }
      }
    }
    if !rule.options.isEmpty {
      for option in TraceVocabulary.options where rule.options.contains(EventOptions(option.option))
      {
        guard let value = option.get(event) else { continue }
        bytes.append(0x20)
        bytes.append(contentsOf: option.key.utf8)
        bytes.append(0x3D)
        switch (option.value, value) {
        case (.subclass, .number(let n)): NumberText.appendDecimal(n, to: &bytes)
        case (_, .number(let n)): NumberText.appendHex(n, to: &bytes)
        case (_, .lockClass(let c)): tokens.appendClass(c, to: &bytes)
        case (_, .stack(let s)): tokens.appendStack(s, to: &bytes)
        }
      }
    }
    bytes.append(0x0A)
  }

  // MARK: Tokens

  private mutating func word(_ declaration: Declaration) {
    bytes.append(contentsOf: TraceVocabulary.rule(for: declaration).spelling.utf8)
  }

  private mutating func option(_ key: String, _ value: String) {
    bytes.append(0x20)
    bytes.append(contentsOf: key.utf8)
    bytes.append(0x3D)
    Self.appendToken(value, to: &bytes)
  }

  /// Appends `text` as one token: bare when the reader takes it back as it
  /// is, else in double quotes with `\"` and `\\` escapes. Quoted: the empty
  /// token, anything holding a space, tab, `#`, `"` or `=`, and the words a
  /// line may start with (so a thread named `class` is not a declaration).
  /// A line break cannot be written in a token at all; each is written as
  /// a space (the trace's declarations refuse one first: `unwritable(_:)`).
  public static func appendToken(_ text: String, to out: inout [UInt8]) {
    var needsQuotes = text.isEmpty
    for c in text.utf8 {
      switch c {
      case 0x20, 0x09, 0x23, 0x22, 0x3D: needsQuotes = true
      case 0x0A, 0x0D: needsQuotes = true
      default: break
      }
    }
    if !needsQuotes && (text == TraceVocabulary.headerWord || isDeclarationWord(text)) {
      needsQuotes = true
    }
    if !needsQuotes {
      out.append(contentsOf: text.utf8)
      return
    }
    out.append(0x22)
    for c in text.utf8 {
      switch c {
      case 0x22, 0x5C:
        out.append(0x5C)
        out.append(c)
      case 0x0A, 0x0D: out.append(0x20)
      default: out.append(c)
      }
    }
    out.append(0x22)
  }

  /// The first character of `text` that a token of a text trace cannot
  /// hold, or nil: a control character other than tab (a line break, NUL,
  /// ESC, DEL), which the reader refuses.
  public static func unwritable(_ text: String) -> Unicode.Scalar? {
    guard text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else { return nil }
    return text.unicodeScalars.first { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }
  }

  /// `text` with every character `unwritable(_:)` finds replaced by its
  /// escape written out (`\u{A}`), for a writer that must write something
  /// rather than fail (the live recorder's names).
  public static func writable(_ text: String) -> String {
    guard unwritable(text) != nil else { return text }
    var out = ""
    for scalar in text.unicodeScalars {
      let refused = scalar.value < 0x20 && scalar != "\t" || scalar.value == 0x7F
      out += refused ? QuotedText.escape(scalar) : String(scalar)
    }
    return out
  }

  /// The longest line a text trace holds (`LineReader.maxLineLength`,
  /// the newline not counted), which a binary trace's strings (up to
  /// `BinaryTraceFormat.maxStringLength` each) can pass.
  static let maxLineLength = LineReader.maxLineLength

  /// The longest class key or thread token written (quoted): an event line
  /// names at most three (its thread, its class, a `nest=` class) and a few
  /// short options, so no event line is longer than `maxLineLength`.
  static let maxTokenLength = (maxLineLength - 1024) / 3

  /// `id` as a message shows it: its first 40 characters, and `...` when
  /// there are more.
  private static func shortened(_ id: String) -> String {
    QuotedText.shown(String(id.prefix(40))) + (id.count > 40 ? "..." : "")
  }

  /// Throws when `key`, the id of a `what`, written as a token, is longer
  /// than `maxTokenLength`.
  private static func checkTokenLength(_ key: String, _ what: String) throws(TraceWriteError) {
    var written: [UInt8] = []
    appendToken(key, to: &written)
    guard written.count > maxTokenLength else { return }
    throw TraceWriteError(
      "cannot write \(what) \"\(shortened(key))\" as text: its id is "
        + "\(written.count) bytes written, and a text trace holds ids up to \(maxTokenLength) "
        + "(an event line names up to three)")
  }

  /// When the line written from `start` is longer than a text trace holds
  /// (`maxLineLength`): takes it back out and returns its length.
  private mutating func takeBackLongLine(from start: Int) -> Int? {
    let length = bytes.count - start - 1
    guard length > Self.maxLineLength else { return nil }
    bytes.removeSubrange(start...)
    if unnamedThreadLine.map({ $0.end > bytes.count }) == true { unnamedThreadLine = nil }
    return length
  }

  /// The refusal of a line of `length` bytes, past `maxLineLength`.
  private static func lineTooLong(_ what: String, _ id: String, _ length: Int) -> TraceWriteError {
    TraceWriteError(
      "cannot write \(what) \"\(shortened(id))\" as text: its line "
        + "would be \(length) bytes, and a text trace holds lines up to \(maxLineLength)")
  }

  /// Throws when `text`, the `field` of the `what` known as `id`, cannot be
  /// written.
  private static func check(_ text: String, _ what: String, _ id: String, _ field: String)
    throws(TraceWriteError)
  {
    if let bad = unwritable(text) { throw refusal(what, id, field, bad) }
  }

  private static func refusal(_ what: String, _ id: String, _ field: String, _ bad: Unicode.Scalar)
    -> TraceWriteError
  {
    TraceWriteError(
      "cannot write \(what) \"\(QuotedText.shown(id))\" as text: its \(field) holds the control character \(QuotedText.escape(bad)), which a text trace cannot hold"
    )
  }

  private static func isDeclarationWord(_ text: String) -> Bool {
    TraceVocabulary.declarations.contains { $0.spelling == text }
  }
}
