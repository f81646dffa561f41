import CElfutils

/// The rows of one line program (libdw's `Dwarf_Lines`) with their addresses
/// copied into an array, so that finding the row of an address is a binary
/// search over plain integers: no call into libdw per step, and none of the
/// lock `dwarf_getsrc_die` takes per lookup.
///
/// Invariants: `addresses[i]` is the address of row `i` of `lines`, which
/// libdw keeps sorted by address (and which lives as long as its `Dwarf`).
struct LineRows {
  let lines: OpaquePointer
  private let addresses: [UInt64]

  init(lines: OpaquePointer, count: Int) {
    self.lines = lines
    addresses = (0..<count).map { index in
      var address: Dwarf_Addr = 0
      dwarf_lineaddr(dwarf_onesrcline(lines, index), &address)
      return address
    }
  }

  /// The row describing `pc`, chosen as elfutils 0.188's `dwarf_getsrc_die`
  /// chooses it: the last row whose address is at or below `pc` (the last of
  /// several at one address), unless that row ends a sequence.
  func row(containing pc: UInt64) -> OpaquePointer? {
    addresses.withUnsafeBufferPointer { addresses in
      guard !addresses.isEmpty else { return nil }
      var low = 0
      var high = addresses.count - 1
      while low < high {
        let middle = high - (high - low) / 2
        if pc < addresses[middle] { high = middle - 1 } else { low = middle }
      }
      guard addresses[low] <= pc, let row = dwarf_onesrcline(lines, low) else { return nil }
      var ends = false
      dwarf_lineendsequence(row, &ends)
      return ends ? nil : row
    }
  }
}
