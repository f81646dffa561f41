import Basics
import LockGraph
import WaitContext

/// Reads a binary trace (`docs/binary-trace-format.md`) and feeds its
/// declarations and events to a consumer, as `TextTraceReader` does for
/// text: the same calls for the same trace, streaming through one fixed
/// buffer.
///
/// A trace that ends inside a record is read up to its last whole record,
/// and `warning` says how many bytes were left over. No field makes the
/// reader allocate more than `BinaryTraceFormat`'s limits allow; memory
/// grows only with what the trace declares.
public struct BinaryTraceReader {
  /// The trace file to read.
  public let path: String
  /// The name used in error messages and warnings.
  public let displayName: String
  /// Where a binary trace's malformed record is kept, the records before
  /// it read, instead of thrown; nil: thrown (`TraceCorruption`).
  public var corruption: TraceCorruption?

  /// A reader of the trace at `path`, called `displayName` (the path when
  /// nil) in messages.
  public init(path: String, displayName: String? = nil) {
    self.path = path
    self.displayName = displayName ?? path
  }

  /// Reads the whole trace into `consumer`.
  /// - Parameters:
  ///   - progress: called now and then with bytes read and the file size
  ///     (nil when unknown).
  ///   - warning: called with a one-line message when the trace is truncated.
  /// - Returns: the trace's modules and stacks.
  /// - Throws: `TraceError` naming the byte offset of the first bad record.
  public func read<Consumer: TraceConsumer>(
    into consumer: inout Consumer, progress: ((UInt64, UInt64?) -> Void)? = nil,
    warning: (String) -> Void = { _ in }
  ) throws(TraceError) -> TraceSymbols {
    var input: ByteInput
    do {
      input = try ByteInput(path: path, name: displayName)
    } catch {
      throw TraceError(file: displayName, line: 0, message: Self.describe(error))
    }
    var decoder = BinaryTraceDecoder(file: displayName)
    try decoder.run(&input, into: &consumer, progress: progress, warning: warning)
    return decoder.symbols
  }

  /// Reads an opened trace (its first bytes already read) into `consumer`.
  func read<Consumer: TraceConsumer>(
    opened: OpenedTraceInput, into consumer: inout Consumer,
    progress: ((UInt64, UInt64?) -> Void)? = nil, warning: (String) -> Void = { _ in },
    interruption: TraceInterruption? = nil
  ) throws(TraceError) -> TraceSymbols {
    var input = ByteInput(opened: opened, name: displayName)
    input.interruption = interruption
    var decoder = BinaryTraceDecoder(file: displayName)
    decoder.corruption = corruption
    try decoder.run(
      &input, into: &consumer, progress: progress, warning: warning, interruption: interruption)
    return decoder.symbols
  }

  /// Reads a binary trace held in memory, called `name` in messages.
  public static func read<Consumer: TraceConsumer>(
    bytes: [UInt8], name: String, into consumer: inout Consumer,
    warning: (String) -> Void = { _ in }
  ) throws(TraceError) -> TraceSymbols {
    var input = ByteInput(bytes: bytes)
    var decoder = BinaryTraceDecoder(file: name)
    try decoder.run(&input, into: &consumer, progress: nil, warning: warning)
    return decoder.symbols
  }

  static func describe(_ stop: BinaryStop) -> String {
    switch stop {
    case .truncated: "truncated"
    case .malformed(let message), .io(let message), .refused(_, let message): message
    case .interrupted(let reason): InputWait.beforeHeader(reason)
    }
  }
}

/// Decodes the records of a binary trace one at a time.
///
/// Invariant: every id a record names was declared by an earlier record
/// (classes, stacks) or is created by its first use (threads).
struct BinaryTraceDecoder: ~Copyable {
  let file: String
  /// Where a malformed record's error is kept instead of thrown.
  var corruption: TraceCorruption?
  private(set) var symbols = TraceSymbols()
  var classes = IDTable()
  var classIDs: [ClassID] = []
  /// The declared classes' keys (`insertNew`): a key declared
  /// twice is refused. Compared byte by byte, as the text reader compares
  /// tokens (a `Set<String>` would take two spellings of one character,
  /// precomposed and not, for one key).
  private var classKeys = TokenTable()
  var threads = IDTable()
  var threadIDs: [ThreadID] = []
  /// The declared threads' tokens (`insertNew`): a token
  /// declared twice is refused. Compared byte by byte, as `classKeys`.
  private var threadTokens = TokenTable()
  /// Each thread slot's previous value of each address option
  /// (`addressOptionIndex`), `addressOptionCount` a slot, for the slots
  /// up to the highest that used one so far: a thread that names no
  /// address costs nothing here.
  var previous: [UInt64] = []
  var stacks = IDTable()
  /// The `StackID` of each stack record, by its `stacks` slot (records
  /// with the same addresses share one: `TraceSymbols.internStack`).
  var stackIDs: [Int32] = []
  /// The event loop's view of `threads` and `classes` (`DenseEventTables`).
  var dense = DenseEventTables()
  /// The event layouts, flattened for the event loop.
  let layout = BinaryEventLayout.shared
  /// Events decoded and not yet consumed.
  var batch = EventBatch()
  /// The offset of the record being decoded.
  var recordStart: UInt64 = 0
  /// The options whose values are addresses (written as deltas from the
  /// thread's previous one), numbered from 0 by `EventOption.rawValue`
  /// (-1: not an address).
  static let addressOptionIndex: [Int] = {
    var next = 0
    return EventOption.allCases.map { option in
      guard TraceVocabulary.options.contains(where: { $0.option == option && $0.value == .address })
      else { return -1 }
      next += 1
      return next - 1
    }
  }()
  /// How many options are addresses.
  static let addressOptionCount = addressOptionIndex.filter { $0 >= 0 }.count
  /// The number of verbs (a stored copy: a static costs a check per read).
  let verbCount = UInt8(LockEvent.Verb.allCases.count)
  /// `addressOptionIndex` and `addressOptionCount`, stored copies.
  let addressOptionIndex = Self.addressOptionIndex
  let addressOptionCount = Self.addressOptionCount

  init(file: String) { self.file = file }

  /// Reads the trace into `consumer`; a file that shrank while it was
  /// read (mapped, its last page's rest read as zeros) is that error, in
  /// place of what the reading ended with.
  mutating func run<C: TraceConsumer>(
    _ input: inout ByteInput, into consumer: inout C, progress: ((UInt64, UInt64?) -> Void)?,
    warning: (String) -> Void, interruption: TraceInterruption? = nil
  ) throws(TraceError) {
    var warnings: [String] = []
    do {
      try read(&input, into: &consumer, progress: progress, interruption: interruption) {
        warnings.append($0)
      }
    } catch {
      if let shrank = input.shrinkage { throw shrinkage(shrank) }
      throw error
    }
    if let shrank = input.shrinkage { throw shrinkage(shrank) }
    warnings.forEach(warning)
  }

  /// The error of a file that shrank to `size` while it was read.
  private func shrinkage(_ shrank: (size: UInt64, message: String)) -> TraceError {
    var error = TraceError(file: file, byte: shrank.size, message: shrank.message)
    error.fileShrank = true
    return error
  }

  private mutating func read<C: TraceConsumer>(
    _ input: inout ByteInput, into consumer: inout C, progress: ((UInt64, UInt64?) -> Void)?,
    interruption: TraceInterruption?, warning: (String) -> Void
  ) throws(TraceError) {
    do throws(BinaryStop) {
      for (i, expected) in BinaryTraceFormat.magic.enumerated() {
        guard try input.byte() == expected else {
          throw BinaryStop.malformed(
            i == 0 ? "not a binary trace" : "not a binary trace (expected magic \"RLCT\")")
        }
      }
      let version = try input.byte()
      guard version == BinaryTraceFormat.version else {
        throw BinaryStop.malformed(
          "unsupported binary trace version \(version) (this reader knows version 1)")
      }
    } catch {
      if case .truncated = error {
        throw TraceError(
          file: file, byte: 0, message: "truncated header: expected \"RLCT\" and version 1")
      }
      throw TraceError(file: file, byte: 0, message: BinaryTraceReader.describe(error))
    }
    var nextProgress: UInt64 = 0
    while true {
      input.releaseConsumed()
      if batch.isFull { try flush(into: &consumer) }
      // Asked once a batch, at a record's start.
      if let interruption, let reason = interruption.reason() {
        try flush(into: &consumer)
        warning("\(file): \(reason) at byte \(input.offset): read up to there")
        break
      }
      do throws(BinaryStop) {
        try decodeEvents(&input)
        if batch.isFull { continue }
        recordStart = input.offset
        guard try input.hasMore() else { break }
        try record(&input, into: &consumer)
      } catch {
        try flush(into: &consumer)
        switch error {
        case .truncated:
          let left = input.bytesRead - recordStart
          warning(
            "\(file): truncated at byte \(recordStart): \(left) byte\(left == 1 ? "" : "s") left over "
              + "after the last whole record; read up to there")
          progress?(input.bytesRead, input.fileSize)
          return
        case .malformed(let message):
          let error = TraceError(file: file, byte: recordStart, message: message)
          guard let corruption else { throw error }
          // Read up to the record, as a truncation is; the caller says it.
          corruption.error = error
          progress?(recordStart, input.fileSize)
          return
        case .refused(let at, let message): throw TraceError(file: file, byte: at, message: message)
        case .io(let message): throw TraceError(file: file, byte: input.offset, message: message)
        case .interrupted(let reason):
          // While a pipe was waited for: as between batches.
          warning("\(file): \(reason) at byte \(recordStart): read up to there")
          progress?(recordStart, input.fileSize)
          return
        }
      }
      if let progress, input.progressOffset >= nextProgress {
        progress(input.progressOffset, input.fileSize)
        nextProgress = input.progressOffset + (1 << 22)
      }
    }
    try flush(into: &consumer)
    progress?(input.bytesRead, input.fileSize)
  }

  /// Hands the decoded events to `consumer`; a refused event is an error
  /// at its record's offset.
  mutating func flush<C: TraceConsumer>(into consumer: inout C) throws(TraceError) {
    if let refused = batch.flush(into: &consumer) {
      throw TraceError(file: file, byte: UInt64(refused.position), message: refused.error.message)
    }
  }

  /// Hands the decoded events to `consumer` before a declaration reaches it.
  private mutating func flushBefore<C: TraceConsumer>(_ consumer: inout C) throws(BinaryStop) {
    if let refused = batch.flush(into: &consumer) {
      throw .refused(at: UInt64(refused.position), refused.error.message)
    }
  }

  /// `flushBefore(_:)` for a thread's declaration or name, which a
  /// consumer that takes threads ahead takes without one.
  private mutating func flushBefore<C: TraceConsumer>(thread consumer: inout C)
    throws(BinaryStop)
  {
    if !consumer.takesThreadsAhead { try flushBefore(&consumer) }
  }

  // MARK: Records

  @inline(__always)
  private mutating func record<C: TraceConsumer>(_ input: inout ByteInput, into consumer: inout C)
    throws(BinaryStop)
  {
    let code = try input.byte()
    if code & 0xC0 == BinaryTraceFormat.plainEvent || code & 0xC0 == BinaryTraceFormat.maskedEvent {
      if code & 0x3F < verbCount {
        try event(code, &input, into: &consumer)
        return
      }
    } else if let record = BinaryTraceFormat.Record(rawValue: code) {
      switch record {
      case .lockClass: try lockClassRecord(&input, into: &consumer)
      case .thread: try threadRecord(&input, into: &consumer)
      case .threadName:
        // The whole record before a new thread is declared: a record cut
        // short declares nothing. Its id is checked at once: a record
        // malformed in the bytes present is an error, even when cut short.
        let id = try self.id(&input, "thread")
        let name = try string(&input, "thread name")
        let slot = try threadSlot(id, consumer: &consumer)
        try flushBefore(thread: &consumer)
        do {
          try consumer.nameThread(threadIDs[slot], name)
        } catch {
          throw .malformed(error.message)
        }
      case .module: try moduleRecord(&input)
      case .stack: try stackRecord(&input)
      }
      return
    }
    throw .malformed("unknown record type \(Self.hex(code))")
  }

  private mutating func lockClassRecord<C: TraceConsumer>(
    _ input: inout ByteInput, into consumer: inout C
  ) throws(BinaryStop) {
    let id = try self.id(&input, "class")
    if classes.find(id) != nil { throw .malformed("class id \(id) declared twice") }
    let kindNumber = try input.byte()
    guard Int(kindNumber) < BinaryTraceFormat.kinds.count else {
      throw .malformed("unknown lock kind \(kindNumber)")
    }
    let kind = BinaryTraceFormat.kinds[Int(kindNumber)]
    let present = try input.byte()
    guard present & ~0x0F == 0 else { throw .malformed("class field bits \(Self.hex(present))") }
    // Each check as soon as its bytes are read: a record already wrong is
    // an error even when the file ends inside it.
    if present & BinaryTraceFormat.hasInner == 0 {
      do {
        _ = try ClassWaitTypes(kind: kind, inner: nil, outer: nil, lockType: nil)
      } catch {
        if case .innerRequired(let k) = error {
          throw .malformed("a \(k.rawValue) class needs an inner type")
        }
      }
    }
    let key = try string(&input, "class key")
    guard classKeys.find(key) == nil else {
      throw .malformed("class \"\(TextTraceParser.clip(key))\" declared twice")
    }
    let name = present & BinaryTraceFormat.hasName != 0 ? try string(&input, "class name") : nil
    let inner = present & BinaryTraceFormat.hasInner != 0 ? try waitType(&input, "inner") : nil
    let outer = present & BinaryTraceFormat.hasOuter != 0 ? try waitType(&input, "outer") : nil
    var lockType: LockType? = nil
    if present & BinaryTraceFormat.hasType != 0 {
      let raw = try input.byte()
      guard let t = LockType(rawValue: raw) else { throw .malformed("unknown lock type \(raw)") }
      lockType = t
    }
    let waits: ClassWaitTypes
    do {
      waits = try ClassWaitTypes(kind: kind, inner: inner, outer: outer, lockType: lockType)
    } catch {
      switch error {
      case .innerRequired(let k): throw .malformed("a \(k.rawValue) class needs an inner type")
      case .lockTypeFixed(let k):
        throw .malformed("a \(k.rawValue) class has lock type \(k.row.lockType!), not \(lockType!)")
      }
    }
    _ = classKeys.insertNew(key)
    try flushBefore(&consumer)
    let cid: ClassID
    do {
      cid = try consumer.declareClass(
        key: key, name: name, kind: kind, waits: waits, site: "\(file): byte \(recordStart)")
    } catch {
      throw .malformed(error.message)
    }
    _ = classes.insert(id)
    classIDs.append(cid)
    dense.declareClass(id, cid, denseCount: classes.denseCount)
  }

  private mutating func threadRecord<C: TraceConsumer>(
    _ input: inout ByteInput, into consumer: inout C
  ) throws(BinaryStop) {
    let id = try self.id(&input, "thread")
    if threads.find(id) != nil { throw .malformed("thread id \(id) declared twice") }
    let token = try string(&input, "thread token")
    try declareThread(id, token: token, consumer: &consumer)
  }

  private mutating func moduleRecord(_ input: inout ByteInput) throws(BinaryStop) {
    let start = try input.varint()
    let size = try input.varint()
    guard size > 0, start <= UInt64.max - size else {
      throw .malformed(
        "module range \(NumberText.hex(start)) + \(NumberText.hex(size)) is empty or wraps")
    }
    let offset = try input.varint()
    let path = try string(&input, "module path")
    let buildID = try string(&input, "build-id")
    // Empty: no build-id recorded.
    if !buildID.isEmpty, let problem = TraceVocabulary.buildIDProblem(buildID) {
      throw .malformed(problem)
    }
    symbols.addModule(
      ModuleRecord(
        start: start, end: start + size, fileOffset: offset, path: path,
        buildID: buildID.isEmpty ? nil : buildID.lowercased()))
  }

  private mutating func stackRecord(_ input: inout ByteInput) throws(BinaryStop) {
    let id = try self.id(&input, "stack")
    if stacks.find(id) != nil { throw .malformed("stack id \(id) declared twice") }
    let count = try input.varint()
    guard count >= 1, count <= UInt64(BinaryTraceFormat.maxStackDepth) else {
      throw .malformed(
        "stack of \(count) addresses (expected 1 to \(BinaryTraceFormat.maxStackDepth))")
    }
    var addresses: [UInt64] = []
    addresses.reserveCapacity(Int(count))
    var last: UInt64 = 0
    for i in 0..<Int(count) {
      let v = try input.varint()
      last = i == 0 ? v : VarInt.unzigzag(v, from: last)
      addresses.append(last)
    }
    _ = stacks.insert(id)
    stackIDs.append(symbols.internStack(addresses))
  }

  // MARK: Events

  /// An event record read the careful way (near the end of the buffer, or
  /// of a thread not seen yet), into the batch (which has room).
  private mutating func event<C: TraceConsumer>(
    _ code: UInt8, _ input: inout ByteInput, into consumer: inout C
  ) throws(BinaryStop) {
    let verb = code & 0x3F
    let id = try input.varint()
    // A thread first seen here is declared once the record is whole (a
    // record cut short declares nothing); its slot is the next one.
    let known = threads.find(id)
    if known == nil, id > BinaryTraceFormat.maxID {
      throw .malformed("thread id \(id) too large")
    }
    let slot = known ?? threads.count
    var event = LockEvent(
      LockEvent.Verb(rawValue: verb).unsafelyUnwrapped,
      thread: known.map { threadIDs[$0] } ?? ThreadID(0))
    if code & BinaryTraceFormat.maskedEvent == 0 { try checkRequired(mask: 0, verb) }
    switch layout.operands[Int(verb)] {
    case .none: break
    case .lockClass: event.lockClass = try lockClass(input.varint())
    case .addressAndLength:
      event.address = try input.varint()
      event.length = try input.varint()
    }
    if code & BinaryTraceFormat.maskedEvent != 0 { try fields(&event, verb, slot, &input) }
    if known == nil {
      let declared = try declareThread(id, token: String(id), consumer: &consumer)
      precondition(declared == slot, "a new thread's slot is the next one")
      event.thread = threadIDs[declared]
    }
    batch.append(event, at: Int64(recordStart))
  }

  // MARK: Fields

  @inline(__always)
  private mutating func threadSlot<C: TraceConsumer>(_ id: UInt64, consumer: inout C)
    throws(BinaryStop) -> Int
  {
    if let slot = threads.find(id) { return slot }
    guard id <= BinaryTraceFormat.maxID else { throw .malformed("thread id \(id) too large") }
    return try declareThread(id, token: String(id), consumer: &consumer)
  }

  @discardableResult
  private mutating func declareThread<C: TraceConsumer>(
    _ id: UInt64, token: String, consumer: inout C
  ) throws(BinaryStop) -> Int {
    guard threadTokens.insertNew(token) else {
      throw .malformed("thread \"\(TextTraceParser.clip(token))\" declared twice")
    }
    try flushBefore(thread: &consumer)
    let tid: ThreadID
    do {
      tid = try consumer.declareThread(token: token, name: nil)
    } catch {
      throw .malformed(error.message)
    }
    let slot = threads.insert(id)
    threadIDs.append(tid)
    dense.declareThread(id, slot: slot, tid, denseCount: threads.denseCount)
    return slot
  }

  @inline(__always)
  func lockClass(_ id: UInt64) throws(BinaryStop) -> ClassID {
    guard let slot = classes.find(id) else { throw .malformed("unknown class id \(id)") }
    return classIDs[slot]
  }

  @inline(__always)
  func stack(_ id: UInt64) throws(BinaryStop) -> StackID {
    guard let slot = stacks.find(id) else { throw .malformed("unknown stack id \(id)") }
    return StackID(stackIDs[slot])
  }

  private func id(_ input: inout ByteInput, _ what: String) throws(BinaryStop) -> UInt64 {
    let id = try input.varint()
    guard id <= BinaryTraceFormat.maxID else { throw .malformed("\(what) id \(id) too large") }
    return id
  }

  private func string(_ input: inout ByteInput, _ what: String) throws(BinaryStop) -> String {
    let length = try input.varint()
    guard length <= UInt64(BinaryTraceFormat.maxStringLength) else {
      throw .malformed(
        "\(what) of \(length) bytes (at most \(BinaryTraceFormat.maxStringLength))")
    }
    guard let text = UTF8Text.string(try input.take(Int(length))) else {
      throw .malformed("\(what) is not valid UTF-8")
    }
    return text
  }

  private func waitType(_ input: inout ByteInput, _ what: String) throws(BinaryStop) -> WaitType {
    let raw = try input.byte()
    guard let w = WaitType(rawValue: raw), w != .task else {
      throw .malformed("\(what) wait type \(raw) (expected 0 to 4)")
    }
    return w
  }

  static func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 15)])
  }
}
