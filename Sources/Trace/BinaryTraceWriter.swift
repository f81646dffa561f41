import Basics
import LockGraph
import WaitContext

/// Writes a binary trace (`docs/binary-trace-format.md`) into a byte buffer
/// that its owner flushes when it likes; the same calls as
/// `TextTraceWriter`, so a recorder can write either (`TraceWriting`).
///
/// Ids are written as the caller gives them (a reader maps them to its
/// own), so the writer needs no tokens. Instance addresses and return
/// addresses are written as differences from the same thread's previous
/// value, which the writer remembers per thread: a recorder that keeps one
/// writer per thread gets the same stream as one writer for all.
public struct BinaryTraceWriter: Sendable {
  /// The bytes written and not yet flushed.
  public private(set) var bytes: [UInt8] = []
  /// How many bytes are written and not yet flushed.
  public var byteCount: Int { bytes.count }
  /// Each thread's previous value of each address option: a row of
  /// `EventOption.allCases.count` values per thread, indexed by the
  /// thread's row (`rows`) plus the option.
  private var previous: [UInt64] = []
  /// Where each thread's row starts in `previous`. Rows are handed out in
  /// the order threads first appear, so a writer of one thread's events (a
  /// recorder's) keeps one row whatever the thread's id, rather than a row
  /// for every id below it.
  private var rows: [Int32: Int] = [:]
  /// Rows looked up lately, by the thread id's low bits: (thread, row)
  /// packed, thread in the high 32 bits; -1 for none. A trace's few
  /// interleaved threads are found here, not in `rows`.
  private var recentRows = [Int](repeating: -1, count: 16)
  /// The threads given a row so far.
  var rowCount: Int { rows.count }
  /// The verbs' operands and fields as flat arrays (no row copied, so no
  /// array retained, per event).
  private let layout = BinaryEventLayout.shared

  /// An empty writer whose buffer holds `capacity` bytes before it grows.
  public init(capacity: Int = 0) {
    bytes.reserveCapacity(capacity)
  }

  // MARK: Buffer

  /// Hands the buffered bytes to `write` and empties the buffer (keeping its
  /// capacity). When `write` throws, the bytes stay in the buffer.
  public mutating func flush<E: Error>(_ write: (UnsafeRawBufferPointer) throws(E) -> Void)
    throws(E)
  {
    try TraceBuffer.flush(&bytes, write)
  }

  /// The buffered bytes, leaving the buffer empty.
  public mutating func take() -> [UInt8] {
    defer { bytes = [] }
    return bytes
  }

  // MARK: Records

  /// The magic bytes `RLCT` and the version byte.
  public mutating func header() {
    bytes.append(contentsOf: BinaryTraceFormat.header)
  }

  /// A class record. Inner, outer and lock type are written only where
  /// `waits` differs from what the kind gives, as `TextTraceWriter` does,
  /// so both encodings read back to the same `ClassWaitTypes`.
  public mutating func declareClass(
    id: ClassID, key: String, name: String?, kind: LockKind, waits: ClassWaitTypes
  ) {
    let row = kind.row
    var inner: WaitType? = nil
    var outer: WaitType? = nil
    var type: LockType? = nil
    if row.inner != waits.inner { inner = waits.inner }
    if let o = waits.outer {
      if o != row.outer { outer = o }
    } else if row.outer != nil {
      outer = waits.inner
    }
    if waits.lockType != (row.lockType ?? .normal) { type = waits.lockType }
    var present: UInt8 = 0
    if name != nil { present |= BinaryTraceFormat.hasName }
    if inner != nil { present |= BinaryTraceFormat.hasInner }
    if outer != nil { present |= BinaryTraceFormat.hasOuter }
    if type != nil { present |= BinaryTraceFormat.hasType }
    bytes.append(BinaryTraceFormat.Record.lockClass.rawValue)
    VarInt.append(Self.id(id.raw), to: &bytes)
    bytes.append(UInt8(BinaryTraceFormat.kinds.firstIndex(of: kind)!))
    bytes.append(present)
    string(key)
    if let name { string(name) }
    if let inner { bytes.append(inner.rawValue) }
    if let outer { bytes.append(outer.rawValue) }
    if let type { bytes.append(type.rawValue) }
  }

  /// A thread record, then a thread-name record when `name` is given.
  public mutating func declareThread(id: ThreadID, token: String, name: String?) {
    bytes.append(BinaryTraceFormat.Record.thread.rawValue)
    VarInt.append(Self.id(id.raw), to: &bytes)
    string(token)
    if let name { nameThread(id, name) }
  }

  /// A thread-name record.
  public mutating func nameThread(_ id: ThreadID, _ name: String) {
    bytes.append(BinaryTraceFormat.Record.threadName.rawValue)
    VarInt.append(Self.id(id.raw), to: &bytes)
    string(name)
  }

  /// A module record.
  public mutating func module(_ module: ModuleRecord) {
    bytes.append(BinaryTraceFormat.Record.module.rawValue)
    VarInt.append(module.start, to: &bytes)
    VarInt.append(module.end &- module.start, to: &bytes)
    VarInt.append(module.fileOffset, to: &bytes)
    string(module.path)
    string(module.buildID ?? "")
  }

  /// A stack record, innermost address first. `token` is ignored (stacks
  /// are known by id). An empty stack is not written, as in text.
  public mutating func stack(id: StackID, token: String? = nil, addresses: [UInt64]) {
    if addresses.isEmpty { return }
    precondition(
      addresses.count <= BinaryTraceFormat.maxStackDepth,
      "a binary stack holds at most \(BinaryTraceFormat.maxStackDepth) addresses")
    bytes.append(BinaryTraceFormat.Record.stack.rawValue)
    VarInt.append(Self.id(id.raw), to: &bytes)
    VarInt.append(UInt64(addresses.count), to: &bytes)
    var last: UInt64 = 0
    for (i, address) in addresses.enumerated() {
      VarInt.append(i == 0 ? address : VarInt.zigzag(address, from: last), to: &bytes)
      last = address
    }
  }

  /// An event record: type byte, thread, operand, then (when the event
  /// carries any) the field mask and the fields of its verb's row, in
  /// `BinaryVocabulary` order. Fields the verb cannot carry are not written.
  public mutating func event(_ event: LockEvent) {
    let v = Int(event.verb.rawValue)
    let start = bytes.count
    bytes.append(BinaryTraceFormat.plainEvent | event.verb.rawValue)
    VarInt.append(Self.id(event.thread.raw), to: &bytes)
    switch layout.operands[v] {
    case .none: break
    case .lockClass: VarInt.append(Self.id(event.lockClass.raw), to: &bytes)
    case .addressAndLength:
      VarInt.append(event.address, to: &bytes)
      VarInt.append(event.length, to: &bytes)
    }
    // The row's fields are its mask's low bits (`validMasks`: 2^n - 1).
    let fieldCount = 8 - layout.validMasks[v].leadingZeroBitCount
    if fieldCount == 0 { return }
    let maskIndex = bytes.count
    bytes.append(0)
    var mask: UInt8 = 0
    for bit in 0..<fieldCount {
      switch layout.fields[v &* 8 &+ bit] {
      case .flag(let flag):
        if TraceVocabulary.isSet(flag, event) { mask |= 1 << bit }
      case .option(let option, let kind):
        guard let value = TraceVocabulary.value(option, event) else { continue }
        mask |= 1 << bit
        switch (kind, value) {
        case (.subclass, .number(let n)): bytes.append(UInt8(truncatingIfNeeded: n))
        case (_, .number(let n)):
          let slot = slot(event.thread, option)
          VarInt.append(VarInt.zigzag(n, from: previous[slot]), to: &bytes)
          previous[slot] = n
        case (_, .lockClass(let c)): VarInt.append(Self.id(c.raw), to: &bytes)
        case (_, .stack(let s)): VarInt.append(Self.id(s.raw), to: &bytes)
        }
      }
    }
    if mask == 0 {
      bytes.removeLast()
    } else {
      bytes[maskIndex] = mask
      bytes[start] = BinaryTraceFormat.maskedEvent | event.verb.rawValue
    }
  }

  // MARK: Fields

  private mutating func slot(_ thread: ThreadID, _ option: EventOption) -> Int {
    precondition(thread.raw >= 0, "thread ids are not negative")
    let recent = Int(thread.raw) & (recentRows.count - 1)
    let packed = recentRows[recent]
    let row: Int
    if packed >= 0 && packed >> 32 == Int(thread.raw) {
      row = packed & 0xFFFF_FFFF
    } else {
      if let known = rows[thread.raw] {
        row = known
      } else {
        row = previous.count
        rows[thread.raw] = row
        previous.append(contentsOf: repeatElement(0, count: EventOption.allCases.count))
      }
      recentRows[recent] = Int(thread.raw) << 32 | row
    }
    return row + Int(option.rawValue)
  }

  /// An id as written; a negative one (`.none`) becomes a number no reader
  /// accepts, as `TextTraceWriter` writes a token no reader knows.
  private static func id(_ raw: Int32) -> UInt64 { UInt64(UInt32(bitPattern: raw)) }

  private mutating func string(_ text: String) {
    let utf8 = text.utf8
    precondition(
      utf8.count <= BinaryTraceFormat.maxStringLength,
      "a binary trace string holds at most \(BinaryTraceFormat.maxStringLength) bytes")
    VarInt.append(UInt64(utf8.count), to: &bytes)
    bytes.append(contentsOf: utf8)
  }
}
