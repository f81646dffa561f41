import CElfutils

/// The functions of one compilation unit and the inlined calls inside them,
/// read in one linear pass over the unit's DIEs, the way binutils and LLVM
/// index a unit.
///
/// Walking with `dwarf_siblingof` re-reads every skipped subtree (swiftc and
/// clang emit no `DW_AT_sibling`), so the inline chain of each address used
/// to cost a scan of most of its function. Here each DIE is read once: its
/// attributes are skipped with `DwarfForms`, and only subprograms and inlined
/// subroutines with addresses are kept, in DIE order.
///
/// Invariants:
/// - `entries` is in DIE (depth-first) order; `entries[i].end` is one past
///   the last entry of i's subtree, so i's descendants are `i+1 ..< end`.
/// - an inlined call's `parent` is the nearest kept ancestor (lexical blocks
///   are transparent); a subprogram's is -1, also when it is nested inside
///   another subprogram (swiftc nests closures in their function's DIE).
/// - `subprograms` holds every subprogram range, sorted by `low`.
struct UnitScopes {
  struct Entry {
    var die: Dwarf_Die
    var parent: Int32
    /// Descendants are `childStart ..< end`; `childStart` is -1 while a
    /// subprogram's subtree has not been read yet (see `pending`).
    var childStart: Int32
    var end: Int32
    var rangeStart: Int32
    var rangeEnd: Int32
  }

  private(set) var entries: [Entry] = []
  private var lows: [UInt64] = []
  private var highs: [UInt64] = []
  /// Subprogram ranges, sorted by `low`; `index` is the entry index.
  private(set) var subprograms: [AddressRange] = []
  /// Where the children of a subprogram skipped with `DW_AT_sibling` start;
  /// read on the first lookup inside that subprogram.
  private var pending: [Int32: UnsafePointer<UInt8>] = [:]

  private let cu: OpaquePointer
  private let unitStart: UnsafePointer<UInt8>
  private let end: UnsafePointer<UInt8>
  private let shape: DwarfForms.UnitShape
  private let abbreviations: AbbreviationTables.Table
  /// C++ units are read whole: gcc puts the concrete member functions of a
  /// function's local classes (a lambda's `operator()`) inside that
  /// function's DIE, also when the function's own code was discarded, so a
  /// function's subtree cannot be left for a lookup inside its range.
  private let readsFunctionsWhole: Bool

  /// Reads the unit whose DIE is `unitDie` and whose data (header
  /// included) spans `unitStart ..< end`, with the abbreviation tables of
  /// its `.debug_abbrev`; nil when a DIE uses a form `DwarfForms` does not
  /// know or the data is malformed (the caller then falls back to libdw's
  /// walk).
  init?(
    unitDie: Dwarf_Die, start unitStart: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>,
    abbreviations tables: AbbreviationTables
  ) {
    var unit = unitDie
    guard let cu = unit.cu else { return nil }
    var version: Dwarf_Half = 0
    var abbreviationOffset: Dwarf_Off = 0
    var addressSize: UInt8 = 0
    var offsetSize: UInt8 = 0
    var scratch = Dwarf_Die()
    guard
      dwarf_cu_die(
        cu, &scratch, &version, &abbreviationOffset, &addressSize, &offsetSize, nil, nil) != nil
    else { return nil }
    self.cu = cu
    self.unitStart = unitStart
    self.end = end
    shape = DwarfForms.UnitShape(
      version: Int(version), addressSize: Int(addressSize), offsetSize: Int(offsetSize))
    guard shape.addressSize == 4 || shape.addressSize == 8,
      let table = tables.table(at: abbreviationOffset, shape: shape)
    else { return nil }
    abbreviations = table
    switch Int(dwarf_srclang(&unit)) {
    case DW_LANG_C_plus_plus, DW_LANG_C_plus_plus_03, DW_LANG_C_plus_plus_11,
      DW_LANG_C_plus_plus_14, DW_LANG_ObjC_plus_plus:
      readsFunctionsWhole = true
    default:
      readsFunctionsWhole = false
    }
    var first = Dwarf_Die()
    guard dwarf_child(&unit, &first) == 0, let start = first.addr else { return }
    guard walk(from: start.assumingMemoryBound(to: UInt8.self), owner: -1, isUnit: true) else {
      return nil
    }
    subprograms.sort { $0.low < $1.low }
  }

  /// Reads DIEs from `start` to the end of that sibling list (and the lists
  /// nested in it), keeping subprograms and inlined calls. In the unit walk,
  /// a subprogram whose subtree can be jumped over (`DW_AT_sibling`) is left
  /// pending. Returns false on malformed data.
  private mutating func walk(from start: UnsafePointer<UInt8>, owner: Int32, isUnit: Bool) -> Bool {
    // One level per open DIE with children: the kept entry it belongs to
    // (for parents), the entry it opened, if it was kept (to close it), and
    // whether it is inside a function (where classes are local and can hold
    // concrete functions).
    var levels: [(owner: Int32, opened: Int32, inFunction: Bool)] = [
      (owner, -1, owner >= 0)
    ]
    var p = start
    while !levels.isEmpty {
      guard p < end else { return false }
      if p.pointee == 0 {
        let level = levels.removeLast()
        if level.opened >= 0 { entries[Int(level.opened)].end = Int32(entries.count) }
        p += 1
        continue
      }
      guard let (code, values) = DwarfForms.readULEB(p, end: end),
        let declaration = abbreviations.declaration(code)
      else { return false }
      let tag = Int32(bitPattern: declaration.tag)
      let isSubprogram = tag == Int32(DW_TAG_subprogram)
      let isFunction = isSubprogram || tag == Int32(DW_TAG_inlined_subroutine)
      var q = values
      var sibling: UnsafePointer<UInt8>?
      var addresses = FunctionAddresses()
      if declaration.fixedSize >= 0, !isFunction {
        // Fast path: no value needs decoding but the sibling's.
        guard end - q >= declaration.fixedSize else { return false }
        if declaration.siblingOffset >= 0 {
          sibling = Self.reference(
            form: declaration.siblingForm, at: q + declaration.siblingOffset,
            unitStart: unitStart, end: end)
        }
        q += declaration.fixedSize
      } else {
        for attribute in abbreviations.attributes[declaration.attributes] {
          switch Int(attribute.name) {
          case DW_AT_sibling:
            sibling = Self.reference(form: attribute.form, at: q, unitStart: unitStart, end: end)
          case DW_AT_low_pc where isFunction:
            addresses.low = (q, attribute.form)
          case DW_AT_high_pc where isFunction:
            addresses.high = (q, attribute.form)
          case DW_AT_ranges where isFunction:
            addresses.hasRanges = true
          default:
            break
          }
          guard let next = DwarfForms.skip(form: attribute.form, at: q, end: end, shape: shape)
          else { return false }
          q = next
        }
      }
      var kept: Int32 = -1
      if isFunction {
        let rangeStart = lows.count
        if let (low, high) = addresses.range(shape: shape, end: end) {
          if high > low {
            lows.append(low)
            highs.append(high)
          }
        } else if addresses.hasRanges || addresses.low != nil {
          // DW_AT_ranges, or address forms read through .debug_addr: libdw.
          var die = Dwarf_Die(
            addr: UnsafeMutableRawPointer(mutating: p), cu: cu, abbrev: nil, padding__: 0)
          forEachRange(of: &die) { low, high in
            lows.append(low)
            highs.append(high)
          }
        }
        if lows.count > rangeStart {
          kept = Int32(entries.count)
          let die = Dwarf_Die(
            addr: UnsafeMutableRawPointer(mutating: p), cu: cu, abbrev: nil, padding__: 0)
          entries.append(
            Entry(
              die: die, parent: isSubprogram ? -1 : levels[levels.count - 1].owner,
              childStart: kept + 1, end: kept + 1, rangeStart: Int32(rangeStart),
              rangeEnd: Int32(lows.count)))
          // Subprograms met while reading a pending subtree (gcc's nested
          // functions) are not added: the sorted table is final by then.
          if isSubprogram, isUnit {
            for range in rangeStart..<lows.count {
              subprograms.append(
                AddressRange(low: lows[range], high: highs[range], index: Int(kept)))
            }
          }
        }
      }
      p = q
      guard declaration.hasChildren else { continue }
      let inFunction = levels[levels.count - 1].inFunction
      if let sibling, sibling > p,
        kept < 0 || (isSubprogram && isUnit && !readsFunctionsWhole),
        kept >= 0 || !Self.mayHoldFunctions(tag, inFunction: inFunction)
      {
        // gcc emits DW_AT_sibling: jump over a type's or variable's subtree,
        // and leave a function's for its first lookup.
        if kept >= 0 {
          entries[Int(kept)].childStart = -1
          pending[kept] = p
        }
        p = sibling
      } else {
        levels.append(
          (
            owner: kept >= 0 ? kept : levels[levels.count - 1].owner, opened: kept,
            inFunction: inFunction || isFunction
          ))
      }
    }
    return true
  }

  /// Tags whose children can be functions or inlined calls (subprograms
  /// hold nested closures, inlined calls and blocks hold inlined calls;
  /// inside a function, a local class holds its member functions' concrete
  /// DIEs when gcc wrote them).
  private static func mayHoldFunctions(_ tag: Int32, inFunction: Bool) -> Bool {
    switch Int(tag) {
    case DW_TAG_subprogram, DW_TAG_inlined_subroutine, DW_TAG_lexical_block, DW_TAG_module,
      DW_TAG_namespace, DW_TAG_try_block, DW_TAG_catch_block:
      return true
    case DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type:
      return inFunction
    default:
      return false
    }
  }

  /// The target of a unit-relative reference (`DW_AT_sibling`), if it lies
  /// inside the unit.
  private static func reference(
    form: UInt32, at p: UnsafePointer<UInt8>, unitStart: UnsafePointer<UInt8>,
    end: UnsafePointer<UInt8>
  ) -> UnsafePointer<UInt8>? {
    let raw = UnsafeRawPointer(p)
    let offset: UInt64
    switch Int(form) {
    case DW_FORM_ref1: offset = UInt64(p.pointee)
    case DW_FORM_ref2 where end - p >= 2: offset = UInt64(raw.loadUnaligned(as: UInt16.self))
    case DW_FORM_ref4 where end - p >= 4: offset = UInt64(raw.loadUnaligned(as: UInt32.self))
    case DW_FORM_ref8 where end - p >= 8: offset = raw.loadUnaligned(as: UInt64.self)
    case DW_FORM_ref_udata:
      guard let (value, _) = DwarfForms.readULEB(p, end: end) else { return nil }
      offset = value
    default: return nil
    }
    guard offset < UInt64(end - unitStart) else { return nil }
    return unitStart + Int(offset)
  }

  /// The address ranges of `entry`, in the order the DIE gives them.
  func ranges(of entry: Entry) -> [(low: UInt64, high: UInt64)] {
    (Int(entry.rangeStart)..<Int(entry.rangeEnd)).map { (lows[$0], highs[$0]) }
  }

  private func contains(_ entry: Entry, _ pc: UInt64) -> Bool {
    for range in Int(entry.rangeStart)..<Int(entry.rangeEnd)
    where lows[range] <= pc && pc < highs[range] {
      return true
    }
    return false
  }

  /// The DIEs of the scopes containing `pc`: its subprogram, then each
  /// inlined call nested in the previous one; nil when no function of the
  /// unit contains `pc`.
  mutating func scopeChain(containing pc: UInt64) -> [Dwarf_Die]? {
    var chain: [Dwarf_Die] = []
    return scopeChain(containing: pc, into: &chain) ? chain : nil
  }

  /// Replaces `chain` with the DIEs of the scopes containing `pc` (as
  /// `scopeChain(containing:)` returns them), reusing its storage; false,
  /// with `chain` empty, when no function of the unit contains `pc`.
  mutating func scopeChain(containing pc: UInt64, into chain: inout [Dwarf_Die]) -> Bool {
    chain.removeAll(keepingCapacity: true)
    guard let subprogram = subprograms.index(containing: pc) else { return false }
    inlineChain(subprogram: subprogram, pc: pc, into: &chain)
    return true
  }

  /// Appends the DIEs of the scopes containing `pc` inside subprogram entry
  /// `subprogram`: the subprogram first, then each inlined call nested in the
  /// previous one (at each level, the first in DIE order that contains `pc`).
  private mutating func inlineChain(subprogram: Int, pc: UInt64, into chain: inout [Dwarf_Die]) {
    if entries[subprogram].childStart < 0 { readPending(subprogram) }
    chain.append(entries[subprogram].die)
    var current = subprogram
    var index = Int(entries[subprogram].childStart)
    while index < Int(entries[current].end) {
      let entry = entries[index]
      if Int(entry.parent) == current, contains(entry, pc) {
        chain.append(entry.die)
        current = index
        index = Int(entry.childStart)
      } else {
        index = Int(entry.end)
      }
    }
  }

  /// Reads the subtree of a subprogram the unit walk jumped over; its
  /// entries are appended, so they follow the invariants of the others.
  private mutating func readPending(_ subprogram: Int) {
    let key = Int32(subprogram)
    let first = Int32(entries.count)
    if let start = pending.removeValue(forKey: key), walk(from: start, owner: key, isUnit: false) {
      entries[subprogram].childStart = first
      entries[subprogram].end = Int32(entries.count)
    } else {
      // Malformed: keep the subprogram without inlined calls.
      entries.removeSubrange(Int(first)...)
      entries[subprogram].childStart = first
      entries[subprogram].end = first
    }
  }
}

/// Where a function DIE's `DW_AT_low_pc` and `DW_AT_high_pc` values are, to
/// read its one address range without libdw.
private struct FunctionAddresses {
  var low: (UnsafePointer<UInt8>, UInt32)?
  var high: (UnsafePointer<UInt8>, UInt32)?
  var hasRanges = false

  /// `[low, high)` when both are present in the forms read here: an address
  /// for `low`, an address or a constant offset from `low` for `high`; nil
  /// otherwise (no addresses, `DW_AT_ranges`, or indexed addresses).
  func range(shape: DwarfForms.UnitShape, end: UnsafePointer<UInt8>) -> (UInt64, UInt64)? {
    guard !hasRanges, let (lowAt, lowForm) = low, let (highAt, highForm) = high,
      lowForm == UInt32(DW_FORM_addr),
      let lowValue = Self.address(at: lowAt, shape: shape, end: end)
    else { return nil }
    let raw = UnsafeRawPointer(highAt)
    switch Int(highForm) {
    case DW_FORM_addr:
      return Self.address(at: highAt, shape: shape, end: end).map { (lowValue, $0) }
    case DW_FORM_data1 where end - highAt >= 1:
      return (lowValue, lowValue &+ UInt64(highAt.pointee))
    case DW_FORM_data2 where end - highAt >= 2:
      return (lowValue, lowValue &+ UInt64(raw.loadUnaligned(as: UInt16.self)))
    case DW_FORM_data4 where end - highAt >= 4:
      return (lowValue, lowValue &+ UInt64(raw.loadUnaligned(as: UInt32.self)))
    case DW_FORM_data8 where end - highAt >= 8:
      return (lowValue, lowValue &+ raw.loadUnaligned(as: UInt64.self))
    case DW_FORM_udata:
      return DwarfForms.readULEB(highAt, end: end).map { (lowValue, lowValue &+ $0.0) }
    default:
      return nil
    }
  }

  private static func address(
    at p: UnsafePointer<UInt8>, shape: DwarfForms.UnitShape, end: UnsafePointer<UInt8>
  ) -> UInt64? {
    guard end - p >= shape.addressSize else { return nil }
    let raw = UnsafeRawPointer(p)
    return shape.addressSize == 8
      ? raw.loadUnaligned(as: UInt64.self) : UInt64(raw.loadUnaligned(as: UInt32.self))
  }
}
