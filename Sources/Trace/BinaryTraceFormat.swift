import LockGraph
import WaitContext

/// The constants of the binary trace encoding (`docs/binary-trace-format.md`):
/// magic bytes, version, record codes and the limits a reader enforces.
///
/// Events are laid out from the rows of `TraceVocabulary.events`, so a verb,
/// flag or option added there is encoded here without further code; see
/// `BinaryVocabulary`.
public enum BinaryTraceFormat {
  /// The first four bytes of every binary trace: `RLCT`.
  public static let magic: [UInt8] = [0x52, 0x4C, 0x43, 0x54]
  /// The version byte after the magic; the only one this reader knows.
  public static let version: UInt8 = 1
  /// Magic and version: the bytes a binary trace starts with.
  public static let header: [UInt8] = magic + [version]

  /// The longest string (class key or name, thread token or name, module
  /// path, build-id) a reader accepts, in bytes.
  public static let maxStringLength = 1 << 20
  /// The most addresses a stack record may hold.
  public static let maxStackDepth = 4096
  /// The largest id (class, thread or stack) a record may carry.
  public static let maxID: UInt64 = UInt64(Int32.max)

  /// A declaration record's type byte.
  public enum Record: UInt8, Sendable, CaseIterable {
    /// `class`: id, kind, present bits, key, then name, inner, outer, type when present.
    case lockClass = 0x01
    /// `thread`: id and token.
    case thread = 0x02
    /// A thread's name: id and name.
    case threadName = 0x03
    /// `module`: start, size, file offset, path, build-id.
    case module = 0x04
    /// `stack`: id, count, first address, then signed deltas.
    case stack = 0x05
  }

  /// The type byte of an event without flags or options: this bit and the verb.
  public static let plainEvent: UInt8 = 0x40
  /// The type byte of an event followed by a field mask: this bit and the verb.
  public static let maskedEvent: UInt8 = 0x80

  /// Lock kinds by their number in a class record. Fixed: new kinds are
  /// appended, never inserted.
  public static let kinds: [LockKind] = [
    .rawSpinlock, .spinlock, .rwlock, .localLock, .mutex, .rwsem, .rtMutex, .rcu, .rcuBH,
    .rcuSched, .srcu, .waitOverride, .custom,
  ]

  /// A class record's present bits.
  static let hasName: UInt8 = 1
  static let hasInner: UInt8 = 2
  static let hasOuter: UInt8 = 4
  static let hasType: UInt8 = 8

  /// True when `prefix` (a file's first bytes) starts like a binary trace:
  /// the magic, or a non-empty beginning of it when the file is that short.
  public static func isBinary(prefix: some Collection<UInt8>) -> Bool {
    !prefix.isEmpty && zip(prefix, magic).allSatisfy { $0 == $1 }
  }
  /// `bytes` begin with the whole magic (a text reader's first line, to say
  /// that a binary trace reached it through a pipe).
  static func startsWithMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
    bytes.count >= magic.count && zip(bytes, magic).allSatisfy { $0 == $1 }
  }

}

/// `TraceVocabulary` as the binary encoding reads it: for each verb, the
/// fields that may follow its operand, in mask-bit order (the row's flags in
/// `TraceVocabulary.flags` order, then its options in
/// `TraceVocabulary.options` order).
struct BinaryVocabulary: Sendable {
  /// One bit of an event's field mask.
  enum Field: Sendable {
    /// A bare flag.
    case flag(EventFlag)
    /// A `key=value` option and how its value is encoded.
    case option(EventOption, OptionValueKind)
  }

  /// A verb's row in binary form.
  struct Verb: Sendable {
    var operand: EventOperand
    var fields: [Field]
    /// The mask bits that name a field.
    var validMask: UInt8
    var required: EventOptions
  }

  /// Indexed by `LockEvent.Verb.rawValue`.
  let verbs: [Verb]
  let words = CompiledVocabulary.shared

  static let shared = BinaryVocabulary()

  init() {
    verbs = LockEvent.Verb.allCases.map { verb in
      let row = TraceVocabulary.rule(for: verb)
      var fields: [Field] = []
      for flag in TraceVocabulary.flags where row.flags.contains(EventFlags(flag.flag)) {
        fields.append(.flag(flag.flag))
      }
      for option in TraceVocabulary.options where row.options.contains(EventOptions(option.option))
      {
        fields.append(.option(option.option, option.value))
      }
      precondition(fields.count <= 8, "a verb's flags and options fit one mask byte")
      precondition(verb.rawValue < 0x40, "a verb fits the type byte's low six bits")
      let mask = fields.isEmpty ? 0 : UInt8(truncatingIfNeeded: (1 << fields.count) - 1)
      return Verb(operand: row.operand, fields: fields, validMask: mask, required: row.required)
    }
  }
}

/// `BinaryVocabulary` flattened for the reader's event loop: arrays of
/// plain values indexed by verb (and mask bit), so that decoding an event
/// copies no row and retains nothing.
struct BinaryEventLayout: Sendable {
  /// Each verb's operand.
  let operands: [EventOperand]
  /// `fastCodes[typeByte]`: what the fast event loop does with a record
  /// that starts with `typeByte` (`FastCode`): 0 for anything it leaves to
  /// the careful path (not an event, a verb past the vocabulary, or a verb
  /// with a required option, `init`, whose record the careful path checks).
  let fastCodes: [UInt8]
  /// The mask bits that name a field, per verb.
  let validMasks: [UInt8]
  /// The mask bits that name a flag, per verb.
  let flagMasks: [UInt8]
  /// The options each verb requires.
  let required: [EventOptions]
  /// `fields[verb * 8 + bit]`: the field of a mask bit (unused bits repeat
  /// the verb's first field and are never read: `validMasks` rules them out).
  let fields: [BinaryVocabulary.Field]
  /// Indexed by `EventFlag.rawValue`.
  let flagGroups: [UInt8]
  /// `flagsOnly[verb * 256 + mask]`: for a mask that names flags only,
  /// valid for a verb that requires no option and with no two flags of one
  /// exclusive group, what the flags set (`FlagsOnly`); 0 for any other
  /// mask, which the general field decoder reads (and refuses if wrong).
  let flagsOnly: [UInt8]

  /// What a mask of flags sets, packed: the read mode in bits 0-1,
  /// `isTrylock` in bit 2, `threaded` in bit 3, and bit 7 always.
  enum FlagsOnly {
    static let valid: UInt8 = 0x80
    static let trylock: UInt8 = 4
    static let threaded: UInt8 = 8
  }

  /// A `fastCodes` entry, packed: the operand in bits 0-1, and whether
  /// a mask byte follows the operand.
  enum FastCode {
    static let operand: UInt8 = 3
    static let noOperand: UInt8 = 1
    static let lockClass: UInt8 = 2
    static let addressAndLength: UInt8 = 3
    static let masked: UInt8 = 4
  }

  static let shared = BinaryEventLayout(BinaryVocabulary.shared)

  init(_ vocabulary: BinaryVocabulary) {
    operands = vocabulary.verbs.map(\.operand)
    fastCodes = (0..<256).map { code in
      let form = UInt8(code) & 0xC0
      let verb = code & 0x3F
      guard
        form == BinaryTraceFormat.plainEvent || form == BinaryTraceFormat.maskedEvent,
        verb < vocabulary.verbs.count, vocabulary.verbs[verb].required.isEmpty
      else { return 0 }
      let operand =
        switch vocabulary.verbs[verb].operand {
        case .none: FastCode.noOperand
        case .lockClass: FastCode.lockClass
        case .addressAndLength: FastCode.addressAndLength
        }
      return operand | (form == BinaryTraceFormat.maskedEvent ? FastCode.masked : 0)
    }
    validMasks = vocabulary.verbs.map(\.validMask)
    flagMasks = vocabulary.verbs.map { row in
      row.fields.indices.reduce(0) { mask, bit in
        if case .flag = row.fields[bit] { return mask | 1 << bit }
        return mask
      }
    }
    required = vocabulary.verbs.map(\.required)
    fields = vocabulary.verbs.flatMap { row in
      (0..<8).map { row.fields.indices.contains($0) ? row.fields[$0] : .flag(.trylock) }
    }
    flagGroups = vocabulary.words.flagGroups
    var flagsOnly = [UInt8](repeating: 0, count: vocabulary.verbs.count * 256)
    for (v, row) in vocabulary.verbs.enumerated() where row.required.isEmpty {
      masks: for mask in 0..<256 where UInt8(mask) & ~row.validMask == 0 {
        // The flags applied to an event, as the general decoder would.
        var event = LockEvent(.acquire, thread: ThreadID(0))
        var groups: UInt8 = 0
        for bit in 0..<8 where mask & (1 << bit) != 0 {
          guard case .flag(let flag) = row.fields[bit] else { continue masks }
          let group = vocabulary.words.flagGroups[Int(flag.rawValue)]
          if group != 0 {
            if groups & (1 << group) != 0 { continue masks }
            groups |= 1 << group
          }
          TraceVocabulary.store(flag, in: &event)
        }
        flagsOnly[v * 256 + mask] =
          FlagsOnly.valid | event.read.rawValue | (event.isTrylock ? FlagsOnly.trylock : 0)
          | (event.threaded ? FlagsOnly.threaded : 0)
      }
    }
    self.flagsOnly = flagsOnly
  }
}

/// LEB128 variable-length integers and the zigzag mapping of signed deltas.
enum VarInt {
  /// Appends `value`, seven bits a byte, low bits first.
  @inline(__always)
  static func append(_ value: UInt64, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
      out.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    out.append(UInt8(truncatingIfNeeded: v))
  }

  /// The difference `value - previous` (wrapping), zigzag-mapped so small
  /// differences of either sign are small numbers.
  @inline(__always)
  static func zigzag(_ value: UInt64, from previous: UInt64) -> UInt64 {
    let d = Int64(bitPattern: value &- previous)
    return UInt64(bitPattern: (d << 1) ^ (d >> 63))
  }

  /// The value a zigzag-mapped difference from `previous` gives.
  @inline(__always)
  static func unzigzag(_ z: UInt64, from previous: UInt64) -> UInt64 {
    let d = (z >> 1) ^ (0 &- (z & 1))
    return previous &+ d
  }
}
