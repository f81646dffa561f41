import CElfutils

/// How many bytes each attribute value of a DIE occupies in `.debug_info`,
/// so a DIE's end (and the next DIE) can be found without libdw's
/// `dwarf_siblingof`, which re-reads a DIE's whole subtree when the producer
/// emitted no `DW_AT_sibling` (swiftc and clang never do).
///
/// Invariant: `skip` either returns the address just past the value or nil
/// for a form it does not know, in which case the caller must fall back to
/// libdw; it never guesses.
enum DwarfForms {
  /// The unit header facts form sizes depend on.
  struct UnitShape {
    var version: Int
    var addressSize: Int
    var offsetSize: Int
  }

  /// The address just past a value of `form` starting at `p`, or nil for an
  /// unknown form or a value that would run past `end`.
  static func skip(
    form: UInt32, at p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, shape: UnitShape
  ) -> UnsafePointer<UInt8>? {
    guard let next = unboundedSkip(form: form, at: p, end: end, shape: shape), next <= end else {
      return nil
    }
    return next
  }

  private static func unboundedSkip(
    form: UInt32, at p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, shape: UnitShape
  ) -> UnsafePointer<UInt8>? {
    guard p < end || form == UInt32(DW_FORM_flag_present) || form == UInt32(DW_FORM_implicit_const)
    else { return nil }
    if let size = fixedSize(of: form, shape: shape) { return p + size }
    switch Int(form) {
    case DW_FORM_udata, DW_FORM_sdata, DW_FORM_ref_udata, DW_FORM_strx, DW_FORM_addrx,
      DW_FORM_loclistx, DW_FORM_rnglistx, DW_FORM_GNU_addr_index, DW_FORM_GNU_str_index:
      return skipLEB(p, end: end)
    case DW_FORM_string:
      var q = p
      while q < end, q.pointee != 0 { q += 1 }
      return q < end ? q + 1 : nil
    case DW_FORM_block1:
      return p + 1 + Int(p.pointee)
    case DW_FORM_block2:
      guard end - p >= 2 else { return nil }
      return p + 2 + Int(UnsafeRawPointer(p).loadUnaligned(as: UInt16.self))
    case DW_FORM_block4:
      guard end - p >= 4 else { return nil }
      return p + 4 + Int(UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
    case DW_FORM_block, DW_FORM_exprloc:
      guard let (length, q) = readULEB(p, end: end), length < UInt64(end - q) + 1 else {
        return nil
      }
      return q + Int(length)
    case DW_FORM_indirect:
      guard let (actual, q) = readULEB(p, end: end), actual != UInt64(DW_FORM_indirect) else {
        return nil
      }
      return skip(form: UInt32(truncatingIfNeeded: actual), at: q, end: end, shape: shape)
    default:
      return nil
    }
  }

  /// Reads an unsigned LEB128 value before `end`; returns it and the
  /// address after it, or nil when it runs past `end`.
  static func readULEB(_ p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) -> (
    UInt64, UnsafePointer<UInt8>
  )? {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    var q = p
    while q < end {
      let byte = q.pointee
      q += 1
      if shift < 64 { result |= UInt64(byte & 0x7f) << shift }
      shift += 7
      if byte & 0x80 == 0 { return (result, q) }
    }
    return nil
  }

  /// The size of every value of `form`, or nil when it varies by value
  /// (LEB128, strings, blocks, `DW_FORM_indirect`) or the form is unknown.
  static func fixedSize(of form: UInt32, shape: UnitShape) -> Int? {
    switch Int(form) {
    case DW_FORM_flag_present, DW_FORM_implicit_const:
      return 0
    case DW_FORM_data1, DW_FORM_ref1, DW_FORM_flag, DW_FORM_strx1, DW_FORM_addrx1:
      return 1
    case DW_FORM_data2, DW_FORM_ref2, DW_FORM_strx2, DW_FORM_addrx2:
      return 2
    case DW_FORM_strx3, DW_FORM_addrx3:
      return 3
    case DW_FORM_data4, DW_FORM_ref4, DW_FORM_strx4, DW_FORM_addrx4, DW_FORM_ref_sup4:
      return 4
    case DW_FORM_data8, DW_FORM_ref8, DW_FORM_ref_sig8, DW_FORM_ref_sup8:
      return 8
    case DW_FORM_data16:
      return 16
    case DW_FORM_addr:
      return shape.addressSize
    case DW_FORM_ref_addr:
      return shape.version <= 2 ? shape.addressSize : shape.offsetSize
    case DW_FORM_strp, DW_FORM_line_strp, DW_FORM_sec_offset, DW_FORM_strp_sup,
      DW_FORM_GNU_ref_alt, DW_FORM_GNU_strp_alt:
      return shape.offsetSize
    default:
      return nil
    }
  }

  /// The address just past an LEB128 value at `p`, or nil when it runs
  /// past `end`.
  static func skipLEB(_ p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>)
    -> UnsafePointer<UInt8>?
  {
    var q = p
    while q < end {
      if q.pointee & 0x80 == 0 { return q + 1 }
      q += 1
    }
    return nil
  }
}
