import Basics
import CElfutils
import Glibc

/// The single-threaded core behind `Symbolizer`: one `Dwfl`, the module
/// slots, and the per-address cache. Not thread-safe; `Symbolizer` keeps it
/// behind a mutex. This file holds its state; what it does is split by
/// concern: reporting modules (`+Modules`), looking up frames (`+Frames`),
/// interning names, files and what is read once per DIE (`+Interning`).
///
/// Invariants: `ranges` is sorted by `low` and every entry's `index` is a
/// slot; a cached answer holds until a module is unloaded, which drops the
/// whole cache (a module's file is read once); `nameTable` and `fileTable`
/// only grow, so a number handed out stays valid.
///
/// Stored properties are `@exclusivity(unchecked)` (as are `DwarfIndex`'s
/// and `ModuleSlot`'s): the engine is only reached through `Symbolizer`'s
/// mutex, one call at a time, and no access to a property outlives the
/// statement that makes it. The runtime's dynamic exclusivity checks were
/// about a sixth of the time of an uncached lookup.
final class SymbolizerEngine {
  let isInProcess: Bool
  let dwfl: OpaquePointer
  let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
  let debugDirectories: [String]
  @exclusivity(unchecked) var slots: [ModuleSlot] = []
  @exclusivity(unchecked) var ranges: [AddressRange] = []
  /// Answers by address: for exact addresses, and for return addresses.
  @exclusivity(unchecked) var cache = AddressTable<[Frame]>(capacity: 1024)
  @exclusivity(unchecked) var returnCache = AddressTable<[Frame]>(capacity: 1024)
  /// Interned names and file names, numbered in order of first use (the
  /// numbers `FrameRecord`s hold), found by the address of their C string
  /// and, for names, by text (one `SymbolName` per distinct linkage name).
  @exclusivity(unchecked) var nameTable: [SymbolName] = []
  @exclusivity(unchecked) var nameIDs = AddressTable<Int32>(capacity: 1024)
  @exclusivity(unchecked) var nameIDsByText = [NameText: Int32](minimumCapacity: 1024)
  /// Per name number: whether a C++ name's readable form was settled with
  /// a DIE at hand (see `settleName`).
  @exclusivity(unchecked) var nameSettled: [Bool] = []
  @exclusivity(unchecked) var fileTable: [String] = []
  @exclusivity(unchecked) var fileIDs = AddressTable<Int32>()
  /// What was read once per DIE (keyed by the DIE's address, which is unique
  /// while the `Dwfl` lives): function names, and inlined calls' call sites.
  @exclusivity(unchecked) var dieNames = AddressTable<Int32>(capacity: 1024)
  @exclusivity(unchecked) var callSites = AddressTable<CallSite>(capacity: 1024)
  /// Scratch storage reused by every lookup.
  @exclusivity(unchecked) var chain: [Dwarf_Die] = []
  @exclusivity(unchecked) var records: [FrameRecord] = []
  @exclusivity(unchecked) var reportedInProcess: Set<String> = []
  /// The dynamic linker's counters at the last refresh (in-process only).
  @exclusivity(unchecked) var loadedGeneration: (adds: UInt64, subs: UInt64) = (0, 0)
  /// Bound on cached addresses; the cache is dropped when it is reached.
  /// Zero: answers are not cached.
  let cacheLimit: Int
  /// What this engine shares with the engines of its symbolizer's lanes:
  /// inflated DWARF images and `SymbolName`s.
  let lanes: LaneShare

  init(
    inProcess: Bool, debugDirectories: [String], cachesAddresses: Bool = true,
    lanes: LaneShare = LaneShare()
  ) {
    self.lanes = lanes
    isInProcess = inProcess
    cacheLimit = cachesAddresses ? 1 << 20 : 0
    self.debugDirectories = debugDirectories
    callbacks = DebugInfoLookup.makeCallbacks(debugDirectories: debugDirectories)
    dwfl = dwfl_begin(callbacks)!
  }

  deinit {
    dwfl_end(dwfl)
    DebugInfoLookup.release(callbacks)
  }
}
