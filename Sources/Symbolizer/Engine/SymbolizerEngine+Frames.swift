import Basics
import CElfutils
import Glibc

/// Lookups: an address's frames, from the cache or from its module's DWARF
/// index (the inline chain, innermost first), else its symbol table.
extension SymbolizerEngine {
  /// The frames of `address`, innermost first (never empty).
  func frames(for address: UInt64, isReturnAddress: Bool) -> [Frame] {
    guard cacheLimit > 0 else {
      return computeFrames(for: address, isReturnAddress: isReturnAddress)
    }
    if let cached = isReturnAddress ? returnCache[address] : cache[address] { return cached }
    let result = computeFrames(for: address, isReturnAddress: isReturnAddress)
    if isReturnAddress {
      if returnCache.count >= cacheLimit { returnCache.removeAll() }
      returnCache.updateValue(result, forKey: address)
    } else {
      if cache.count >= cacheLimit { cache.removeAll() }
      cache.updateValue(result, forKey: address)
    }
    return result
  }

  /// Appends the answer for `address` to `batch`, with the names, files and
  /// modules the batch's sequence has not delivered yet. Not cached.
  func symbolize(_ address: UInt64, isReturnAddress: Bool, into batch: inout SymbolizedBatch) {
    let slot = appendRecords(for: address, isReturnAddress: isReturnAddress, to: &batch.frames)
    batch.finishAnswer(address: address, module: slot)
    if batch.deliveredNames < nameTable.count {
      batch.newNames += nameTable[batch.deliveredNames...]
    }
    if batch.deliveredFiles < fileTable.count {
      batch.newFiles += fileTable[batch.deliveredFiles...]
    }
    while batch.deliveredModules < slots.count {
      let slot = slots[batch.deliveredModules]
      batch.newModules.append(.init(path: slot.path, bias: slot.bias, isStale: slot.isStale))
    }
  }

  func computeFrames(for address: UInt64, isReturnAddress: Bool) -> [Frame] {
    records.removeAll(keepingCapacity: true)
    let index = appendRecords(for: address, isReturnAddress: isReturnAddress, to: &records)
    var base = Frame(address: address)
    if index >= 0 {
      let slot = slots[Int(index)]
      base.module = slot.path
      base.moduleOffset = address &- slot.bias
      base.isStale = slot.isStale
    }
    return records.map { record in
      var frame = base
      if record.name >= 0 { frame.name = nameTable[Int(record.name)] }
      if record.file >= 0 { frame.file = fileTable[Int(record.file)] }
      frame.line = Int(record.line)
      frame.column = Int(record.column)
      frame.isInlined = record.isInlined
      frame.fileIsFromSymbolTable = record.fileFromSymbolTable
      return frame
    }
  }

  /// Appends the frames of `address` to `records`, innermost first (at least
  /// one), and returns the slot of its module, or -1 when no module holds it.
  func appendRecords(
    for address: UInt64, isReturnAddress: Bool, to records: inout [FrameRecord]
  ) -> Int32 {
    guard isReturnAddress, address > 0 else { return appendRecords(at: address, to: &records) }
    // A return address is looked up one byte back, in its call.
    let start = records.count
    let index = appendRecords(at: address - 1, to: &records)
    // A return address with nothing named one byte back is no call's:
    // the kernel's return into a signal's trampoline (`__restore_rt`),
    // the first byte of a function after padding. It is looked up itself.
    guard records.count == start + 1, records[start].name < 0, records[start].file < 0 else {
      return index
    }
    records.removeLast()
    return appendRecords(at: address, to: &records)
  }

  /// `appendRecords(for:isReturnAddress:to:)` of the code at `pc`.
  func appendRecords(at pc: UInt64, to records: inout [FrameRecord]) -> Int32 {
    var index = ranges.index(containing: pc)
    if index == nil, isInProcess {
      refreshProcessModules()
      index = ranges.index(containing: pc)
    }
    guard let index else {
      records.append(.unknown)
      return -1
    }
    let slot = slots[index]
    guard slot.module != nil else {
      records.append(.unknown)
      return Int32(index)
    }
    let linkPC = pc &- slot.bias
    // No name for what is not code: the ELF header, `.rodata`, unwind tables.
    guard slot.isCode(linkPC) else {
      records.append(.unknown)
      return Int32(index)
    }
    // The outermost frame is named by the module's own symbol covering the
    // address, as llvm-symbolizer does: it carries the compiler clone suffix
    // (`.cold`, `.isra.0`) and the exported alias of a stripped library.
    let ownSymbol = slot.ownSymbol(at: linkPC)

    if let dwarf = slot.dwarf {
      let dwarfPC = pc &- slot.dwarfBias(dwarf)
      if let unit = dwarf.unit(containing: dwarfPC) {
        if dwarf.scopeChain(containing: dwarfPC, unit: unit, into: &chain) {
          appendInlineRecords(
            dwarf: dwarf, unit: unit, pc: dwarfPC,
            outerName: ownSymbol.map { symbolName($0.name) }, to: &records)
          return Int32(index)
        }
        // Code with line information but no function DIE (assembly).
        var record = FrameRecord.unknown
        if let symbol = ownSymbol ?? slot.anySymbol(at: linkPC) {
          record.name = symbolName(symbol.name)
        }
        setLocation(&record, lineAt: dwarfPC, unit: unit, dwarf: dwarf)
        records.append(record)
        return Int32(index)
      }
    }
    var record = FrameRecord.unknown
    if let symbol = ownSymbol ?? slot.anySymbol(at: linkPC) {
      record.name = symbolName(symbol.name)
      record.file = symbol.file.map { fileID($0) } ?? -1
      record.fileFromSymbolTable = record.file >= 0
    }
    records.append(record)
    return Int32(index)
  }

  /// One record per scope of `chain` (the subprogram first), appended
  /// innermost first: the innermost scope's line is `pc`'s, every outer
  /// scope's is the call site of the inlined call inside it.
  func appendInlineRecords(
    dwarf: DwarfIndex, unit: Int, pc: UInt64, outerName: Int32?,
    to records: inout [FrameRecord]
  ) {
    for level in stride(from: chain.count - 1, through: 0, by: -1) {
      var record = FrameRecord.unknown
      record.isInlined = level > 0
      if level == 0, let outerName {
        record.name = outerName
      } else {
        record.name = dieName(&chain[level])
      }
      if record.name >= 0, !nameSettled[Int(record.name)] {
        settleName(record.name, die: chain[level], unit: unit, dwarf: dwarf)
      }
      if level == chain.count - 1 {
        setLocation(&record, lineAt: pc, unit: unit, dwarf: dwarf)
      } else {
        let site = callSite(of: &chain[level + 1], unit: unit, dwarf: dwarf)
        record.file = site.file
        record.line = site.line
        record.column = site.column
      }
      records.append(record)
    }
  }
}
