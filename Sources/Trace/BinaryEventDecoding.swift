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
  mutating func decodeEvents(_ input: inout ByteInput) throws(BinaryStop) {
    while !batch.isFull && input.buffered >= Self.longestEvent {
      recordStart = input.offset
      let mark = input.mark
      let code = input.uncheckedByte()
      let form = code & 0xC0
      let verb = code & 0x3F
      guard
        form == BinaryTraceFormat.plainEvent || form == BinaryTraceFormat.maskedEvent,
        verb < verbCount
      else {
        input.rewind(to: mark)
        return
      }
      guard let slot = threads.find(try input.uncheckedVarint()) else {
        input.rewind(to: mark)
        return
      }
      // `verb < verbCount`: a case of the contiguous UInt8 enum.
      let v = unsafeBitCast(verb, to: LockEvent.Verb.self)
      var lockClass = ClassID.none
      var address: UInt64 = 0
      var length: UInt64 = 0
      switch layout.operands[Int(verb)] {
      case .none: break
      case .lockClass: lockClass = try self.lockClass(input.uncheckedVarint())
      case .addressAndLength:
        address = try input.uncheckedVarint()
        length = try input.uncheckedVarint()
      }
      // Built in one piece where it is stored: an event assembled field by
      // field on the stack and then copied stalls on store forwarding.
      if form == BinaryTraceFormat.plainEvent {
        batch.append(
          LockEvent(
            v, thread: threadIDs[slot], lockClass: lockClass, address: address, length: length),
          at: Int64(recordStart))
      } else {
        var event = LockEvent(
          v, thread: threadIDs[slot], lockClass: lockClass, address: address, length: length)
        try fields(&event, verb, slot, &input)
        batch.append(event, at: Int64(recordStart))
      }
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
    var groups: UInt32 = 0
    var bits = mask
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
        layout.flagSetters[Int(flag.rawValue)](&event)
      case .option(let option, let kind):
        let value: OptionValue
        switch kind {
        case .subclass:
          let sub = try input.byte()
          guard sub <= 7 else {
            throw .malformed("sub= must be a subclass from 0 to 7, got \(sub)")
          }
          value = .number(UInt64(sub))
        case .address:
          let index = slot * Self.optionCount + Int(option.rawValue)
          let v = VarInt.unzigzag(try input.varint(), from: previous[index])
          previous[index] = v
          value = .number(v)
        case .lockClass: value = .lockClass(try lockClass(input.varint()))
        case .stack: value = .stack(try stack(input.varint()))
        }
        layout.optionSetters[Int(option.rawValue)](&event, value)
      }
    }
    let required = layout.required[v]
    if !required.isEmpty {
      for option in EventOption.allCases where required.contains(EventOptions(option)) {
        let rule = TraceVocabulary.rule(for: option)
        if rule.get(event) == nil {
          throw .malformed("\(Self.name(event.verb)) needs \(rule.key)=\(rule.placeholder)")
        }
      }
    }
  }

  /// A verb's word, for messages.
  static func name(_ verb: LockEvent.Verb) -> String {
    TraceVocabulary.rule(for: verb).spelling
  }
}
