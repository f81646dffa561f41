import Basics
import LockGraph

/// The words of the text trace format (`spec/trace-format.md`), as data: the
/// verbs with what each accepts, the bare flags, the `key=value` options and
/// the declarations. The parser and `TextTraceWriter` are both driven by
/// these tables, so a new verb is one row in `events` (and a new flag or
/// option one row in `flags` or `options`).
///
/// In the spirit of the Go runtime's `lockrank.go`: the rules are a table,
/// the code only interprets it.
public enum TraceVocabulary {
  /// The header's first token (`rawlockcheck-trace 1`).
  public static let headerWord = "rawlockcheck-trace"

  /// The highest `sub=` (lockdep's `MAX_LOCKDEP_SUBCLASSES` is 8), as
  /// every reader checks it.
  public static let maxSubclass: UInt64 = 7

  /// Why `value` is not a module's `build-id=`, or nil when it is one:
  /// whole bytes in hexadecimal digit pairs, as the symbolizer compares
  /// them with a file's (an odd digit or a non-ASCII one would never match).
  static func buildIDProblem(_ value: String) -> String? {
    NumberText.bytes(fromHex: value) == nil
      ? "build-id must be hexadecimal bytes (two digits each), got \"\(TextTraceParser.clip(value))\""
      : nil
  }
  /// The only version this reader and writer know.
  public static let version = "1"

  /// One row per event verb, in `LockEvent.Verb` order.
  public static let events: [EventRule] = [
    EventRule(
      .acquire, "acquire", operand: .lockClass, flags: [.trylock, .read, .readRecursive],
      options: [.sub, .nest, .inst, .at, .ip]),
    EventRule(.release, "release", operand: .lockClass, options: [.inst, .at, .ip]),
    EventRule(.mightLock, "might-lock", operand: .lockClass, flags: [.read], options: [.at]),
    EventRule(.mightSleep, "might-sleep", options: [.at]),
    EventRule(.hardirqEnter, "hardirq-enter", flags: [.threaded]),
    EventRule(.hardirqExit, "hardirq-exit"),
    EventRule(.softirqEnter, "softirq-enter"),
    EventRule(.softirqExit, "softirq-exit"),
    EventRule(.nmiEnter, "nmi-enter"),
    EventRule(.nmiExit, "nmi-exit"),
    EventRule(.irqDisable, "irq-disable"),
    EventRule(.irqEnable, "irq-enable"),
    EventRule(.bhDisable, "bh-disable"),
    EventRule(.bhEnable, "bh-enable"),
    EventRule(.preemptDisable, "preempt-disable"),
    EventRule(.preemptEnable, "preempt-enable"),
    EventRule(
      .initLock, "init", operand: .lockClass, options: [.inst, .at], required: [.inst]),
    EventRule(.free, "free", operand: .addressAndLength, options: [.at]),
    EventRule(.exit, "exit", options: [.at]),
  ]

  /// One row per bare flag, in `EventFlag` order.
  public static let flags: [FlagRule] = [
    FlagRule(.trylock, "try", isSet: { isSet(.trylock, $0) }, set: { store(.trylock, in: &$0) }),
    FlagRule(
      .read, "read", exclusiveGroup: 1, isSet: { isSet(.read, $0) },
      set: { store(.read, in: &$0) }),
    FlagRule(
      .readRecursive, "read-recursive", exclusiveGroup: 1, isSet: { isSet(.readRecursive, $0) },
      set: { store(.readRecursive, in: &$0) }),
    FlagRule(
      .threaded, "threaded", isSet: { isSet(.threaded, $0) }, set: { store(.threaded, in: &$0) }),
  ]

  /// Whether `event` carries flag `flag` (each row's `isSet`), called
  /// directly by the binary writer, as `store(_:in:)` by the readers.
  @inline(__always)
  public static func isSet(_ flag: EventFlag, _ event: LockEvent) -> Bool {
    switch flag {
    case .trylock: event.isTrylock
    case .read: event.read == .shared
    case .readRecursive: event.read == .recursive
    case .threaded: event.threaded
    }
  }

  /// The value of option `option` on `event`, nil when it holds the
  /// "absent" value (each row's `get`), called directly by the binary
  /// writer.
  @inline(__always)
  public static func value(_ option: EventOption, _ event: LockEvent) -> OptionValue? {
    switch option {
    case .sub: event.subclass == 0 ? nil : .number(UInt64(event.subclass))
    case .nest: event.nest == .none ? nil : .lockClass(event.nest)
    case .inst: event.address == 0 ? nil : .number(event.address)
    case .at: event.origin.stack.isNone ? nil : .stack(event.origin.stack)
    case .ip: event.origin.ip == 0 ? nil : .number(event.origin.ip)
    }
  }

  /// Sets flag `flag` on `event` (each row's `set`), called directly by
  /// the readers, as `store(_:_:in:)` for options.
  @inline(__always)
  public static func store(_ flag: EventFlag, in event: inout LockEvent) {
    switch flag {
    case .trylock: event.isTrylock = true
    case .read: event.read = .shared
    case .readRecursive: event.read = .recursive
    case .threaded: event.threaded = true
    }
  }

  /// One row per event option, in `EventOption` order. `get` returns nil
  /// when the event does not carry the option (its field holds the
  /// "absent" value), so the writer leaves it out.
  public static let options: [OptionRule] = [
    OptionRule(
      .sub, "sub", placeholder: "<n>", value: .subclass,
      get: { value(.sub, $0) },
      set: { store(.sub, $1, in: &$0) }),
    OptionRule(
      .nest, "nest", placeholder: "<class>", value: .lockClass,
      get: { value(.nest, $0) },
      set: { store(.nest, $1, in: &$0) }),
    OptionRule(
      .inst, "inst", placeholder: "<addr>", value: .address,
      get: { value(.inst, $0) },
      set: { store(.inst, $1, in: &$0) }),
    OptionRule(
      .at, "at", placeholder: "<sid>", value: .stack,
      get: { value(.at, $0) },
      set: { store(.at, $1, in: &$0) }),
    OptionRule(
      .ip, "ip", placeholder: "<addr>", value: .address,
      get: { value(.ip, $0) },
      set: { store(.ip, $1, in: &$0) }),
  ]

  /// One row per declaration line.
  public static let declarations: [DeclarationRule] = [
    DeclarationRule(
      .lockClass, "class", synopsis: "class <id> <kind> [name=] [inner=] [outer=] [type=]",
      options: ["name", "inner", "outer", "type"]),
    DeclarationRule(
      .thread, "thread", synopsis: "thread <tid> [name=<comm>]", options: ["name"]),
    DeclarationRule(
      .module, "module",
      synopsis: "module <start>-<end> <file-offset> <path> [build-id=<hex>]",
      options: ["build-id"]),
    DeclarationRule(.stack, "stack", synopsis: "stack <sid> <address> ...", options: []),
  ]

  /// The row of `verb` (rows may be listed in any order).
  public static func rule(for verb: LockEvent.Verb) -> EventRule { byVerb[Int(verb.rawValue)] }

  /// The row of `flag`.
  public static func rule(for flag: EventFlag) -> FlagRule { byFlag[Int(flag.rawValue)] }

  /// Stores `value` on `event` as option `option` (each row's `set`): the
  /// one place that says which field an option fills. The readers' hot
  /// paths call it directly, which copies no event (a call through a
  /// row's closure passes the event in and out through memory).
  @inline(__always)
  public static func store(_ option: EventOption, _ value: OptionValue, in event: inout LockEvent) {
    switch (option, value) {
    case (.sub, .number(let n)): event.subclass = UInt8(truncatingIfNeeded: n)
    case (.nest, .lockClass(let c)): event.nest = c
    case (.inst, .number(let n)): event.address = n
    case (.at, .stack(let s)): event.origin.stack = s
    case (.ip, .number(let n)): event.origin.ip = n
    default: break
    }
  }

  /// The row of `option`.
  public static func rule(for option: EventOption) -> OptionRule { byOption[Int(option.rawValue)] }

  /// What `event` lacks of the options its verb requires (`required`),
  /// as messages name it (`OptionRule.missing`); nil when it has them all.
  /// Both readers check an event with this.
  static func missingOption(of event: LockEvent, required: EventOptions) -> String? {
    if required.isEmpty { return nil }
    for option in EventOption.allCases where required.contains(EventOptions(option)) {
      let rule = rule(for: option)
      if rule.get(event) == nil { return rule.missing }
    }
    return nil
  }

  /// The row of a declaration.
  public static func rule(for declaration: Declaration) -> DeclarationRule {
    byDeclaration[Int(declaration.rawValue)]
  }

  // Each table indexed by raw value; a missing row stops the program the
  // first time the vocabulary is used (and `TraceVocabularyTests` checks it).
  static let byVerb = LockEvent.Verb.allCases.map { v in events.first { $0.verb == v }! }
  static let byFlag = EventFlag.allCases.map { f in flags.first { $0.flag == f }! }
  static let byOption = EventOption.allCases.map { o in options.first { $0.option == o }! }
  static let byDeclaration = Declaration.allCases.map { d in
    declarations.first { $0.declaration == d }!
  }
}

/// What an event verb takes right after itself.
public enum EventOperand: Sendable, Hashable {
  /// Nothing.
  case none
  /// A declared class (`acquire <class>`).
  case lockClass
  /// An address and a length (`free <addr> <length>`).
  case addressAndLength
}

/// A bare word after an event's operand.
public enum EventFlag: UInt8, Sendable, CaseIterable {
  /// `try`: a trylock that succeeded.
  case trylock
  /// `read`: a shared acquisition (read=1).
  case read
  /// `read-recursive`: a shared acquisition that may recurse (read=2).
  case readRecursive
  /// `threaded`: an interrupt handler PREEMPT_RT would run in a thread.
  case threaded
}

/// A set of `EventFlag`s.
public struct EventFlags: OptionSet, Sendable, Hashable {
  /// One bit per `EventFlag.rawValue`.
  public var rawValue: UInt8
  /// A set from its bits.
  @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// The set holding one flag.
  @inlinable public init(_ flag: EventFlag) { self.rawValue = 1 << flag.rawValue }
  /// `try`.
  public static let trylock = EventFlags(.trylock)
  /// `read`.
  public static let read = EventFlags(.read)
  /// `read-recursive`.
  public static let readRecursive = EventFlags(.readRecursive)
  /// `threaded`.
  public static let threaded = EventFlags(.threaded)
}

/// A `key=value` option of an event line.
public enum EventOption: UInt8, Sendable, CaseIterable {
  /// `sub=<n>`: the nesting subclass, 0 to 7.
  case sub
  /// `nest=<class>`: the held lock that serializes same-class nesting.
  case nest
  /// `inst=<addr>`: the lock instance's address.
  case inst
  /// `at=<sid>`: the stack of the event.
  case at
  /// `ip=<addr>`: a single return address.
  case ip
}

/// A set of `EventOption`s.
public struct EventOptions: OptionSet, Sendable, Hashable {
  /// One bit per `EventOption.rawValue`.
  public var rawValue: UInt8
  /// A set from its bits.
  @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
  /// The set holding one option.
  @inlinable public init(_ option: EventOption) { self.rawValue = 1 << option.rawValue }
  /// `sub=`.
  public static let sub = EventOptions(.sub)
  /// `nest=`.
  public static let nest = EventOptions(.nest)
  /// `inst=`.
  public static let inst = EventOptions(.inst)
  /// `at=`.
  public static let at = EventOptions(.at)
  /// `ip=`.
  public static let ip = EventOptions(.ip)
}

/// What an event line may hold after its verb.
public struct EventRule: Sendable {
  /// The verb this row describes.
  public let verb: LockEvent.Verb
  /// How the verb is written.
  public let spelling: String
  /// What follows the verb.
  public let operand: EventOperand
  /// The bare flags it accepts.
  public let flags: EventFlags
  /// The options it accepts.
  public let options: EventOptions
  /// The options it cannot do without (a subset of `options`).
  public let required: EventOptions

  /// A row of `TraceVocabulary.events`.
  public init(
    _ verb: LockEvent.Verb, _ spelling: String, operand: EventOperand = .none,
    flags: EventFlags = [], options: EventOptions = [], required: EventOptions = []
  ) {
    self.verb = verb
    self.spelling = spelling
    self.operand = operand
    self.flags = flags
    self.options = options
    self.required = required
  }
}

/// How a bare flag is written and what it sets on an event.
public struct FlagRule: Sendable {
  /// The flag this row describes.
  public let flag: EventFlag
  /// How the flag is written.
  public let spelling: String
  /// Flags with the same non-zero group exclude each other on one line
  /// (the read modes).
  public let exclusiveGroup: UInt8
  /// Whether an event carries the flag.
  public let isSet: @Sendable (LockEvent) -> Bool
  /// Sets the flag on an event.
  public let set: @Sendable (inout LockEvent) -> Void

  /// A row of `TraceVocabulary.flags`.
  public init(
    _ flag: EventFlag, _ spelling: String, exclusiveGroup: UInt8 = 0,
    isSet: @escaping @Sendable (LockEvent) -> Bool,
    set: @escaping @Sendable (inout LockEvent) -> Void
  ) {
    self.flag = flag
    self.spelling = spelling
    self.exclusiveGroup = exclusiveGroup
    self.isSet = isSet
    self.set = set
  }
}

/// The kind of value an option takes, which decides how it is read and
/// written.
public enum OptionValueKind: Sendable, Hashable {
  /// A subclass, 0 to 7, written in decimal.
  case subclass
  /// An address, written in hexadecimal.
  case address
  /// A declared class, written as its token.
  case lockClass
  /// A declared stack, written as its token.
  case stack
}

/// The value of one option on one event.
public enum OptionValue: Sendable, Hashable {
  /// A subclass or an address.
  case number(UInt64)
  /// A class.
  case lockClass(ClassID)
  /// A stack.
  case stack(StackID)
}

/// How an option is written and which field of an event it carries.
public struct OptionRule: Sendable {
  /// The option this row describes.
  public let option: EventOption
  /// The key, without `=`.
  public let key: String
  /// How the spec names its value (`<addr>`), for messages.
  public let placeholder: String
  /// The kind of value.
  public let value: OptionValueKind
  /// The option's value on an event, or nil when the event does not carry it.
  public let get: @Sendable (LockEvent) -> OptionValue?
  /// Stores a value of the right kind on an event.
  public let set: @Sendable (inout LockEvent, OptionValue) -> Void

  /// A row of `TraceVocabulary.options`.
  public init(
    _ option: EventOption, _ key: String, placeholder: String, value: OptionValueKind,
    get: @escaping @Sendable (LockEvent) -> OptionValue?,
    set: @escaping @Sendable (inout LockEvent, OptionValue) -> Void
  ) {
    self.option = option
    self.key = key
    self.placeholder = placeholder
    self.value = value
    self.get = get
    self.set = set
  }

  /// What a message says an event lacks when this option is required and
  /// missing: `inst=<addr>`, and for an address that 0 does not count (0
  /// is an unknown address).
  var missing: String {
    "\(key)=\(placeholder)" + (value == .address ? " (a nonzero address)" : "")
  }
}

/// The declaration lines.
public enum Declaration: UInt8, Sendable, CaseIterable {
  /// `class <id> <kind> ...`.
  case lockClass
  /// `thread <tid> [name=]`.
  case thread
  /// `module <start>-<end> <file-offset> <path> [build-id=]`.
  case module
  /// `stack <sid> <address> ...`.
  case stack
}

/// How a declaration line is written and which options it accepts.
public struct DeclarationRule: Sendable {
  /// The declaration this row describes.
  public let declaration: Declaration
  /// Its first word.
  public let spelling: String
  /// The form shown when a line is too short.
  public let synopsis: String
  /// The keys of its options, without `=`.
  public let options: [String]

  /// A row of `TraceVocabulary.declarations`.
  public init(_ declaration: Declaration, _ spelling: String, synopsis: String, options: [String]) {
    self.declaration = declaration
    self.spelling = spelling
    self.synopsis = synopsis
    self.options = options
  }
}
