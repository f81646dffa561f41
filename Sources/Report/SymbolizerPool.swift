import Basics
import LockGraph
import Symbolizer

/// The symbolizers of one run's traces, shared between traces whose
/// modules are the same files: the processes of one build (`swift test`'s
/// two, a CI shard's hundreds, each its own `%p` trace) map the same ELF
/// files at other addresses, and a symbolizer per trace opened every file
/// and indexed its DWARF again (26 descriptors and 3 MB a trace: `--merge`
/// of 40 traces ran out of descriptors).
///
/// Traces share a symbolizer when their module lines name the same files
/// (path, build-id, file offset and size), whatever their addresses: a
/// trace's addresses are moved into the first such trace's layout, and
/// its frames keep the trace's own addresses. Not thread-safe: one run's
/// traces are read one after another.
public final class SymbolizerPool {
  /// A module line without its address.
  struct Layout: Hashable {
    var path: String
    var buildID: String?
    var fileOffset: UInt64
    var size: UInt64

    init(_ m: ModuleRecord) {
      path = m.path
      buildID = m.buildID
      fileOffset = m.fileOffset
      size = m.end &- m.start
    }
  }

  private let debugDirectories: [String]
  private let binaries: [String]
  private var pool: [[Layout]: (symbolizer: Symbolizer, modules: [ModuleRecord])] = [:]
  /// The modules whose missing split units were handed out.
  private var saidSplitUnits: Set<String> = []

  /// A pool whose symbolizers find files as
  /// `Symbolizer.init(modules:debugDirectories:binaries:)` does.
  public init(debugDirectories: [String], binaries: [String]) {
    self.debugDirectories = debugDirectories
    self.binaries = binaries
  }

  /// A resolver of a trace's stacks through its `module` lines, and
  /// whether its symbolizer is new (its module warnings are then the
  /// trace's to say; a shared one's were said by the first trace).
  /// `lookups`: where each stack's addresses are looked up, when not
  /// where they are (`TraceSymbols.lookupAddresses(of:)`).
  public func resolver(
    modules: [ModuleRecord], stacks: [[UInt64]],
    lookups: (@Sendable (StackID) -> [UInt64]?)? = nil, filter: FrameFilterChoice
  ) -> (resolver: SymbolizingFrameResolver, isNew: Bool) {
    let table: @Sendable (StackID) -> [UInt64]? = { id in
      Int(id.raw) < stacks.count ? stacks[Int(id.raw)] : nil
    }
    let layouts = modules.map(Layout.init)
    let key = layouts.sorted {
      ($0.path, $0.fileOffset, $0.size) < ($1.path, $1.fileOffset, $1.size)
    }
    let unique = Set(key).count == key.count
    if unique, let shared = pool[key], let shift = AddressShift(from: modules, to: shared.modules) {
      return (
        SymbolizingFrameResolver(
          symbolizer: shared.symbolizer, stacks: table, filter: filter, shift: shift,
          lookups: lookups), false
      )
    }
    let symbolizer = Symbolizer(
      modules: modules, debugDirectories: debugDirectories, binaries: binaries)
    if unique && pool[key] == nil { pool[key] = (symbolizer, modules) }
    return (
      SymbolizingFrameResolver(
        symbolizer: symbolizer, stacks: table, filter: filter, shift: nil, lookups: lookups),
      true
    )
  }

  /// The modules `resolver`'s symbolizers looked up an address in, not
  /// handed out by an earlier call, whose split DWARF units' `.dwo` files
  /// were not found (`Symbolizer.modulesWithMissingSplitUnits`): known
  /// only once their addresses were symbolized, so asked after a report
  /// is written.
  public func newModulesWithMissingSplitUnits(
    of resolver: any FrameResolving
  ) -> [(module: String, dwoFiles: [String])] {
    resolver.symbolizers.flatMap(\.modulesWithMissingSplitUnits).filter {
      saidSplitUnits.insert($0.module).inserted
    }
  }
}

/// How a trace's addresses move into another trace's layout of the same
/// module files: each module's by the difference of their starts.
///
/// Every address is a return address (the engine looks up `address - 1`),
/// so the module it belongs to is the one holding `address - 1`: an
/// address at a module's very end is that module's. An address in no
/// module of the trace goes to 0, which no module holds, so that it is not
/// taken for code of the other layout (its frame gets its address back).
struct AddressShift: Sendable {
  /// The trace's modules by start: start, end, and what to add.
  private let ranges: [(start: UInt64, end: UInt64, delta: UInt64)]

  /// The shift from `modules` to `target` (the same files, one to one),
  /// or nil when a module has no counterpart.
  init?(from modules: [ModuleRecord], to target: [ModuleRecord]) {
    var byLayout: [SymbolizerPool.Layout: ModuleRecord] = [:]
    for m in target { byLayout[SymbolizerPool.Layout(m)] = m }
    var ranges: [(start: UInt64, end: UInt64, delta: UInt64)] = []
    for m in modules {
      guard let t = byLayout[SymbolizerPool.Layout(m)] else { return nil }
      ranges.append((m.start, m.end, t.start &- m.start))
    }
    ranges.sort { $0.start < $1.start }
    self.ranges = ranges
  }

  /// The index of the module holding byte `address`, if any.
  private func range(of address: UInt64) -> Int? {
    var low = 0
    var high = ranges.count
    while low < high {
      let mid = (low + high) / 2
      if ranges[mid].start <= address { low = mid + 1 } else { high = mid }
    }
    guard low > 0, address < ranges[low - 1].end else { return nil }
    return low - 1
  }

  /// Return address `address` in the target's layout; 0 outside every module.
  func moved(_ address: UInt64) -> UInt64 {
    guard address != 0, let i = range(of: address &- 1) else { return 0 }
    return address &+ ranges[i].delta
  }
}
