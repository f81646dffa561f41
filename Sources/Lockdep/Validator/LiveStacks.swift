import Basics
import LockGraph
import Symbolizer
import Synchronization
import Trace

/// Every stack the live validator captured, interned as a trace reader
/// interns a trace's (`TraceSymbols.internStack`): one `StackID` per
/// distinct sequence of return addresses.
///
/// Stacks are captured only when something new is recorded, and, while a
/// trace is recorded, for each free (`LiveThread.recordCurrentEvent`), so
/// this table grows with distinct dependencies, findings and places that
/// free a lock, not with events.
///
/// The table also holds the process's executable mappings as a trace's
/// `module` lines, read again whenever the dynamic linker's count of
/// objects loaded or unloaded changed since the last stack: a library
/// unloaded and another mapped where it was is a line that replaces the
/// old one (`TraceSymbols`), so that a stack captured in the new one is
/// not taken for the same addresses captured in the old one, and each is
/// symbolized from its own file (`symbols`), live and in the trace.
final class LiveStacks: Sendable {
  private struct Table {
    var symbols = TraceSymbols()
    /// The loader's counts when the mappings were last read.
    var generation: (adds: UInt64, subs: UInt64)?
    /// Lines added since the last new stack's declaration.
    var undeclared: [ModuleRecord] = []
    /// The loader's count of objects unloaded when the mappings were
    /// first read.
    var firstUnloads: UInt64?
    /// Every executable mapping at the last reading (of files, the
    /// kernel's `[vdso]`, anonymous JIT code), sorted and disjoint.
    var executable: [Range<UInt64>] = []
  }
  private let table = PThreadMutex(Table())

  /// The id of `addresses`, interned, and whether it is new; `declare` is
  /// called with a new one, and the `module` lines added since the last
  /// new one, before any other thread can get its id.
  func intern(
    _ addresses: UnsafeBufferPointer<UInt64>,
    whenNew declare: (StackID, [UInt64], [ModuleRecord]) -> Void
  ) -> (id: StackID, isNew: Bool) {
    var key = Array(addresses)
    let mappings = Self.mappingsIfChanged(table)
    return table.withLock { t in
      if let mappings { Self.add(mappings, to: &t) }
      // A stack ends at its first return address past the call site
      // (kept whatever it is) outside every executable mapping: past it
      // the walk read a stale frame record, a frame that kept no frame
      // pointer (one bug's occurrences would each have another stack, so
      // be another finding). Code mapped since the last reading (JIT code
      // made with no library loaded) ends a stack too. (None read, where
      // `/proc` is not mounted: kept whole.)
      if !t.executable.isEmpty,
        let end = key.indices.dropFirst().first(where: { !Self.holds(t.executable, key[$0]) })
      {
        key.removeSubrange(end...)
      }
      let known = t.symbols.stacks.count
      let id = StackID(t.symbols.internStack(key))
      let isNew = t.symbols.stacks.count > known
      // Under the table's lock: no other thread can name the stack before
      // `declare` has (the recorder writes its declaration at once).
      if isNew {
        declare(id, key, t.undeclared)
        t.undeclared.removeAll()
      }
      return (id, isNew)
    }
  }

  /// The mappings as `module` lines and the loader's counts they were
  /// read at, when the counts are not those the table last read them at;
  /// nil otherwise. Read without the table's lock: the loader's own lock
  /// (`dl_iterate_phdr`'s) is never waited for while it is held, since a
  /// program's `dl_iterate_phdr` callback may take a validated lock, whose
  /// new dependency interns a stack under the table's lock.
  private static func mappingsIfChanged(_ table: PThreadMutex<Table>) -> Mappings? {
    let generation = ProcessModules.generation()
    guard table.withLock({ $0.generation.map { $0 != generation } ?? true }) else { return nil }
    let mappings = ExecutableMappings.read()
    return Mappings(
      generation: generation, lines: ExecutableMappings.records(of: mappings),
      executable: mappings.map { $0.start..<$0.end }.sorted { $0.lowerBound < $1.lowerBound })
  }

  /// Mappings read at a loader generation.
  private struct Mappings {
    var generation: (adds: UInt64, subs: UInt64)
    var lines: [ModuleRecord]
    var executable: [Range<UInt64>]
  }

  /// Whether one of `ranges` (sorted, disjoint) holds the call before
  /// return address `address`.
  private static func holds(_ ranges: [Range<UInt64>], _ address: UInt64) -> Bool {
    guard address != 0 else { return false }
    let call = address &- 1
    var (low, high) = (0, ranges.count)
    while low < high {
      let mid = (low + high) / 2
      if ranges[mid].upperBound <= call { low = mid + 1 } else { high = mid }
    }
    return low < ranges.count && ranges[low].contains(call)
  }

  /// Adds `mappings` to `t` unless a newer reading was added already
  /// (both counts only grow).
  private static func add(_ mappings: Mappings, to t: inout Table) {
    let generation = mappings.generation
    if let known = t.generation {
      guard generation.adds >= known.adds, generation.subs >= known.subs, generation != known
      else { return }
    }
    t.generation = generation
    t.executable = mappings.executable
    if t.firstUnloads == nil { t.firstUnloads = generation.subs }
    for line in mappings.lines where t.symbols.addModule(line, buildIDMayBeLate: true) {
      t.undeclared.append(line)
    }
  }

  /// The `module` lines a trace begun now starts with: the mappings read
  /// now, handed to no stack's declaration after (the recorder writes them
  /// once).
  func linesForNewTrace() -> [ModuleRecord] {
    let mappings = Self.mappingsIfChanged(table)
    return table.withLock { t in
      if let mappings { Self.add(mappings, to: &t) }
      let lines = t.undeclared
      t.undeclared.removeAll()
      return lines
    }
  }

  /// The addresses of stack `id`.
  func stack(_ id: StackID) -> [UInt64]? {
    table.withLock { $0.symbols.stack(id) }
  }

  /// The stacks and modules so far, and whether an object was unloaded
  /// since the first stack: the process's own objects then no longer hold
  /// every stack's code, whose files the module lines name.
  var symbols: (symbols: TraceSymbols, unloaded: Bool) {
    let unloads = ProcessModules.generation().subs
    return table.withLock { t in (t.symbols, t.firstUnloads.map { $0 != unloads } ?? false) }
  }
}
