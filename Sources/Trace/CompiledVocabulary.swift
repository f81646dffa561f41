import LockGraph

/// `TraceVocabulary` in the form the parser's hot path reads: spellings as
/// bytes, rows as bit sets, indexed by raw value. Built once from the tables.
struct CompiledVocabulary: Sendable {
  /// An `EventRule` without its spelling.
  struct Verb: Sendable {
    var operand: EventOperand
    var flags: EventFlags
    var options: EventOptions
    var required: EventOptions
  }

  let header: [UInt8]
  /// Indexed by `Declaration.rawValue`.
  let declarations: [[UInt8]]
  /// Indexed by `LockEvent.Verb.rawValue`.
  let verbs: [Verb]
  let verbNames: [String]
  /// Indexed by `EventFlag.rawValue`.
  let flagGroups: [UInt8]
  /// Indexed by `EventOption.rawValue`.
  let optionKeys: [[UInt8]]
  /// What each option's value is.
  let optionValues: [OptionValueKind]
  /// Bit n set: a declaration word or the header is n bytes long.
  let declarationLengths: UInt64
  /// Every verb's spelling, its value the verb's raw value: the lookup
  /// of both parsers (the event loop's in a word or two).
  let verbTable: TokenTable
  /// Every flag's spelling, its value the flag's raw value.
  let flagTable: TokenTable
  /// Every option's key (without `=`), its value the option's raw value.
  let optionTable: TokenTable

  static let shared = CompiledVocabulary()

  init() {
    header = Array(TraceVocabulary.headerWord.utf8)
    declarations = Declaration.allCases.map { Array(TraceVocabulary.rule(for: $0).spelling.utf8) }
    let rows = LockEvent.Verb.allCases.map { TraceVocabulary.rule(for: $0) }
    verbs = rows.map {
      Verb(operand: $0.operand, flags: $0.flags, options: $0.options, required: $0.required)
    }
    verbNames = rows.map(\.spelling)
    let flags = EventFlag.allCases.map { TraceVocabulary.rule(for: $0) }
    flagGroups = flags.map(\.exclusiveGroup)
    let options = EventOption.allCases.map { TraceVocabulary.rule(for: $0) }
    optionKeys = options.map { Array($0.key.utf8) }
    optionValues = options.map(\.value)
    var lengths: UInt64 = 0
    for word in declarations + [header] where word.count < 64 { lengths |= 1 << UInt64(word.count) }
    declarationLengths = lengths
    verbTable = Self.table(
      TraceVocabulary.events.map { (Array($0.spelling.utf8), Int32($0.verb.rawValue)) })
    flagTable = Self.table(flags.map { (Array($0.spelling.utf8), Int32($0.flag.rawValue)) })
    optionTable = Self.table(options.map { (Array($0.key.utf8), Int32($0.option.rawValue)) })
  }

  private static func table(_ words: [(bytes: [UInt8], value: Int32)]) -> TokenTable {
    var table = TokenTable()
    for (bytes, value) in words {
      bytes.withUnsafeBytes { table.insert($0, value: value) }
    }
    return table
  }

  @inline(__always)
  func name(_ verb: LockEvent.Verb) -> String { verbNames[Int(verb.rawValue)] }

  /// The declaration a line's first token names, if any (unquoted only).
  @inline(__always)
  func declaration(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> Declaration? {
    if token.quoted { return nil }
    for (i, word) in declarations.enumerated()
    where Self.same(word, line, token.start, token.end) {
      return Declaration(rawValue: UInt8(i))
    }
    return nil
  }

  /// The verb a token spells, if any. A quoted token is compared by its
  /// unescaped text, as a flag is (`1 "acquire" A` said `unknown verb
  /// "acquire"`); only a declaration's keyword quoted is not one (a thread
  /// may be named `"class"`).
  @inline(__always)
  func verb(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token) -> LockEvent.Verb? {
    Self.find(line, token, in: verbTable).flatMap { LockEvent.Verb(rawValue: UInt8($0)) }
  }

  /// The value `table` holds for a token: its bytes, or a quoted token's
  /// unescaped text.
  @inline(__always)
  private static func find(
    _ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, in table: TokenTable
  ) -> Int32? {
    if token.quoted {
      return Array(Tokenizer.text(line, token.start, token.end).utf8).withUnsafeBytes {
        table.find($0)
      }
    }
    return table.find(UnsafeRawBufferPointer(rebasing: line[token.start..<token.end]))
  }

  /// The flag among `allowed` that a bare token spells, if any. A quoted
  /// token is compared by its unescaped text.
  func flag(_ line: UnsafeRawBufferPointer, _ token: Tokenizer.Token, among allowed: EventFlags)
    -> EventFlag?
  {
    if allowed.isEmpty { return nil }
    guard let raw = Self.find(line, token, in: flagTable),
      allowed.contains(EventFlags(rawValue: 1 << UInt8(raw)))
    else { return nil }
    return EventFlag(rawValue: UInt8(raw))
  }

  /// The option among `allowed` whose key is `line[start..<end]`, if any.
  @inline(__always)
  func option(_ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int, among allowed: EventOptions)
    -> EventOption?
  {
    for (i, key) in optionKeys.enumerated()
    where allowed.contains(EventOptions(rawValue: 1 << UInt8(i))) {
      if Self.same(key, line, start, end) { return EventOption(rawValue: UInt8(i)) }
    }
    return nil
  }

  @inline(__always)
  static func same(_ word: [UInt8], _ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int)
    -> Bool
  {
    let length = end - start
    guard word.count == length else { return false }
    return word.withUnsafeBytes { memcmpBytes($0.baseAddress!, line.baseAddress! + start, length) }
  }
}
