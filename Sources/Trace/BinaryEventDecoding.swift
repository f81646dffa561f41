import LockGraph

/// The binary reader's event loop: event records decoded straight into the
/// batch while the buffer holds a whole record for sure, without a check
/// per byte, a row copied or a call into the consumer.
extension BinaryTraceDecoder {
  /// The most bytes an event record can take: type, thread, two operands
  /// and a mask byte, and eight fields of at most ten bytes.
  static let longestEvent = 1 + 10 + 20 + 1 + 8 * 10

  /// Decodes event records into the batch until it is full, fewer than
  /// `longestEvent` bytes are buffered, or the next record is not an event
  /// of a thread seen before (left for `record(_:into:)`).
  ///
  /// Reads the buffer through a pointer of its own (consumed at the end),
  /// and the dense id tables through local copies: no position stored per
  /// byte, no table reloaded per event.
  mutating func decodeEvents(_ input: inout ByteInput) throws(BinaryStop) {
    let room = input.buffered - Self.longestEvent
    if room < 0 || batch.isFull { return }
    let start = input.cursor
    // A record may start at `last` or before: `longestEvent` bytes follow.
    let last = start + room
    let startOffset = Int64(input.offset)
    // A record's position is this plus its address: one add an event, and
    // neither `start` nor `startOffset` kept in the loop.
    let positionBias = startOffset &- Int64(Int(bitPattern: start))
    let threadTable = dense.threads
    let classTable = dense.classes
    var p = start
    // Where `input` is: it consumes up to `p` at the end.
    var synced = start
    defer { input.skip(p - synced) }
    // Events go straight into the batch's free slots; how many is
    // committed at the end (on an error too, with the events before it).
    let (eventSlots, positionSlots, free) = batch.freeSlots()
    var filled = 0
    defer { batch.commit(filled) }
    var record = p
    do throws(BinaryStop) {
      // The tables through buffer pointers: no array reloaded or
      // bounds-checked per event (ids are checked against the counts).
      try threadTable.withUnsafeBufferPointer { (threadTable) throws(BinaryStop) in
        try classTable.withUnsafeBufferPointer { (classTable) throws(BinaryStop) in
          try layout.fastCodes.withUnsafeBufferPointer { (fastCodes) throws(BinaryStop) in
            try layout.flagsOnly.withUnsafeBufferPointer { (flagsOnly) throws(BinaryStop) in
              // The loop's cursor and counts are locals of this closure,
              // kept in registers: the variables outside are captured by
              // reference, so every use of one would be a load or a store
              // (on the loop's critical path). Written back on every exit.
              var q = p
              var f = filled
              var r = record
              defer {
                p = q
                filled = f
                record = r
              }
              while q <= last && f < free {
                r = q
                let code = q.load(as: UInt8.self)
                // Not an event the loop reads: the careful path's.
                let fast = fastCodes[Int(code)]
                if fast == 0 { return }
                let verb = code & 0x3F
                q += 1
                let position = positionBias &+ Int64(Int(bitPattern: r))
                let threadID = try Self.varint(&q)
                let slot: Int
                let thread: ThreadID
                if threadID < UInt64(threadTable.count),
                  case let entry = threadTable[Int(threadID)],
                  entry != DenseEventTables.noThread
                {
                  slot = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: entry))
                  thread = ThreadID(Int32(truncatingIfNeeded: entry >> 32))
                } else if let sparse = sparseThreadSlot(threadID) {
                  slot = sparse
                  thread = threadIDs[sparse]
                } else {
                  // A new thread: the careful path declares it.
                  q = r
                  return
                }
                // `verb < verbCount` (`fastCodes` has no other): a case of
                // the contiguous UInt8 enum.
                let v = unsafeBitCast(verb, to: LockEvent.Verb.self)
                var lockClass = ClassID.none
                var address: UInt64 = 0
                var length: UInt64 = 0
                // The common operand first: a branch, not a jump table.
                let operand = fast & BinaryEventLayout.FastCode.operand
                if operand == BinaryEventLayout.FastCode.lockClass {
                  // Both bytes are buffered: `longestEvent` bytes follow the
                  // record's start, and this number starts within its first 12.
                  let id = try Self.mixedVarint(&q)
                  if id < UInt64(classTable.count), case let c = classTable[Int(id)],
                    c != DenseEventTables.noClass
                  {
                    lockClass = ClassID(c)
                  } else {
                    lockClass = try self.lockClass(id)
                  }
                } else if operand == BinaryEventLayout.FastCode.addressAndLength {
                  address = try Self.varint(&q)
                  length = try Self.varint(&q)
                }
                // Built in one piece where it is stored: an event assembled field by
                // field on the stack and then copied stalls on store forwarding.
                // A masked event's mask byte is buffered (`longestEvent` bytes
                // follow the record's start): a mask of flags only is read
                // here, any other by `fields`.
                if fast & BinaryEventLayout.FastCode.masked == 0 {
                  (eventSlots + f).initialize(
                    to: LockEvent(
                      v, thread: thread, lockClass: lockClass, address: address,
                      length: length))
                } else if case let flags = flagsOnly[
                  Int(verb) &* 256 &+ Int(q.load(as: UInt8.self))],
                  flags != 0
                {
                  q += 1
                  (eventSlots + f).initialize(
                    to: LockEvent(
                      v, thread: thread, lockClass: lockClass,
                      read: ReadMode(rawValue: flags & 3) ?? .exclusive,
                      isTrylock: flags & BinaryEventLayout.FlagsOnly.trylock != 0,
                      threaded: flags & BinaryEventLayout.FlagsOnly.threaded != 0, address: address,
                      length: length))
                } else {
                  var event = LockEvent(
                    v, thread: thread, lockClass: lockClass, address: address,
                    length: length)
                  // The fields are read through `input` (the whole record is
                  // buffered: it reads no more): hand it the position, and take it back.
                  input.skip(q - synced)
                  synced = q
                  try fields(&event, verb, slot, &input)
                  q = input.cursor
                  synced = q
                  (eventSlots + f).initialize(to: event)
                }
                positionSlots[f] = position
                f &+= 1
              }
            }
          }
        }
      }
    } catch {
      // Only an error needs the record's offset.
      recordStart = UInt64(startOffset &+ Int64(record - start))
      throw error
    }
  }

  /// The slot of thread `id` when it is declared past the dense table,
  /// out of line: the event loop's rare case.
  @inline(never)
  func sparseThreadSlot(_ id: UInt64) -> Int? { threads.find(id) }

  /// The LEB128 number at `p` (at most ten bytes, at most 64 bits), which
  /// `p` moves past; the bytes must be buffered. For numbers whose length
  /// rarely changes from one record to the next (thread ids, and the
  /// addresses and lengths of frees and inits): up to three bytes inline.
  @inline(__always)
  static func varint(_ p: inout UnsafeRawPointer) throws(BinaryStop) -> UInt64 {
    let first = p.load(as: UInt8.self)
    if first < 0x80 {
      p += 1
      return UInt64(first)
    }
    let second = p.load(fromByteOffset: 1, as: UInt8.self)
    if second < 0x80 {
      p += 2
      return UInt64(first & 0x7F) | UInt64(second) << 7
    }
    // Three bytes: the thread ids of a trace with a thread per task.
    let third = p.load(fromByteOffset: 2, as: UInt8.self)
    if third < 0x80 {
      p += 3
      return UInt64(first & 0x7F) | UInt64(second & 0x7F) << 7 | UInt64(third) << 14
    }
    let (value, next) = try longVarint(p)
    p = next
    return value
  }

  /// `varint(_:)` for numbers of one or two bytes in any mix (class ids
  /// below 16,384): decoded without a branch on the length, which would be
  /// mispredicted about as often as not where one- and two-byte ids mix
  /// at random. Both bytes must be buffered.
  @inline(__always)
  static func mixedVarint(_ p: inout UnsafeRawPointer) throws(BinaryStop) -> UInt64 {
    let first = UInt64(p.load(as: UInt8.self))
    let second = UInt64(p.load(fromByteOffset: 1, as: UInt8.self))
    // 1 when a second byte follows, else 0.
    let more = first >> 7
    if more & second >> 7 != 0 {
      let (value, next) = try longVarint(p)
      p = next
      return value
    }
    p += Int(1 &+ more)
    return first & 0x7F | (second << 7) & (0 &- more)
  }

  /// `varint(_:)` of three bytes or more: the number, and the position
  /// after it. (It takes and returns the position by value: an `inout`
  /// position would keep the caller's loop cursor in memory.)
  @inline(never)
  static func longVarint(_ start: UnsafeRawPointer) throws(BinaryStop) -> (UInt64, UnsafeRawPointer)
  {
    var p = start
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let b = p.load(as: UInt8.self)
      p += 1
      if shift == 63 && b > 1 {
        // 0x80, 0x81: a padding byte past the tenth; else bits past 64.
        throw .malformed(
          b & 0x7E == 0 ? "number longer than 10 bytes" : "number wider than 64 bits")
      }
      result |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return (result, p) }
      shift += 7
    }
  }

  /// The field mask of a masked event and the fields it names, checked
  /// against the verb's row.
  mutating func fields(
    _ event: inout LockEvent, _ verb: UInt8, _ slot: Int, _ input: inout ByteInput
  ) throws(BinaryStop) {
    let mask = try input.byte()
    let v = Int(verb)
    guard mask & ~layout.validMasks[v] == 0 else {
      throw .malformed("field mask \(Self.hex(mask)) is not valid for \(Self.name(event.verb))")
    }
    if !layout.required[v].isEmpty { try checkRequired(mask: mask, verb) }
    var groups: UInt32 = 0
    var bits = mask
    // The flags at once, as the event loop reads a mask of flags only; a
    // mask with two flags of one group has no entry there, and is read
    // bit by bit below, which says what is wrong.
    let flagBits = mask & layout.flagMasks[v]
    if flagBits != 0, case let flags = layout.flagsOnly[v &* 256 &+ Int(flagBits)], flags != 0 {
      event.read = ReadMode(rawValue: flags & 3) ?? .exclusive
      event.isTrylock = flags & BinaryEventLayout.FlagsOnly.trylock != 0
      event.threaded = flags & BinaryEventLayout.FlagsOnly.threaded != 0
      bits &= ~flagBits
    }
    while bits != 0 {
      let bit = bits.trailingZeroBitCount
      bits &= bits - 1
      switch layout.fields[v &* 8 &+ bit] {
      case .flag(let flag):
        let group = layout.flagGroups[Int(flag.rawValue)]
        if group != 0 {
          let groupBit: UInt32 = 1 << (group & 31)
          if groups & groupBit != 0 {
            throw .malformed(
              "\(Self.name(event.verb)): flag \(TraceVocabulary.rule(for: flag).spelling) "
                + "excluded by another")
          }
          groups |= groupBit
        }
        TraceVocabulary.store(flag, in: &event)
      case .option(let option, let kind):
        let value: OptionValue
        switch kind {
        case .subclass:
          let sub = try input.byte()
          guard sub <= TraceVocabulary.maxSubclass else {
            throw .malformed(
              "sub= must be a subclass from 0 to \(TraceVocabulary.maxSubclass), got \(sub)")
          }
          value = .number(UInt64(sub))
        case .address:
          let index = slot &* addressOptionCount &+ addressOptionIndex[Int(option.rawValue)]
          if index >= previous.count {
            previous.append(contentsOf: repeatElement(0, count: index + 1 - previous.count))
          }
          let v = VarInt.unzigzag(try input.varint(), from: previous[index])
          previous[index] = v
          if v == 0 && layout.required[Int(verb)].contains(EventOptions(option)) {
            // As text: a required address is a nonzero one (`inst=0` is
            // an absent option).
            throw .malformed(
              "\(Self.name(event.verb)) needs \(TraceVocabulary.rule(for: option).missing)")
          }
          value = .number(v)
        case .lockClass: value = .lockClass(try lockClass(input.varint()))
        case .stack: value = .stack(try stack(input.varint()))
        }
        TraceVocabulary.store(option, value, in: &event)
      }
    }
  }

  /// Throws when field mask `mask` (0: a record without one) lacks an
  /// option verb `verb` requires (`init`'s `inst=`), as the text reader
  /// does; checked as soon as the mask is read, so that such a record is
  /// an error even when the file ends inside it.
  func checkRequired(mask: UInt8, _ verb: UInt8) throws(BinaryStop) {
    let v = Int(verb)
    var given = EventOptions()
    var bits = mask
    while bits != 0 {
      let bit = bits.trailingZeroBitCount
      bits &= bits - 1
      if case .option(let option, _) = layout.fields[v &* 8 &+ bit] {
        given.insert(EventOptions(option))
      }
    }
    for option in EventOption.allCases
    where layout.required[v].contains(EventOptions(option)) && !given.contains(EventOptions(option))
    {
      let name = Self.name(LockEvent.Verb(rawValue: verb).unsafelyUnwrapped)
      throw .malformed("\(name) needs \(TraceVocabulary.rule(for: option).missing)")
    }
  }

  /// A verb's word, for messages.
  static func name(_ verb: LockEvent.Verb) -> String {
    TraceVocabulary.rule(for: verb).spelling
  }
}
