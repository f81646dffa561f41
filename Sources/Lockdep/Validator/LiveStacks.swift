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
  }
  private let table = PThreadMutex(Table())

  /// The id of `addresses`, interned, and whether it is new; `declare` is
  /// called with a new one, and the `module` lines added since the last
  /// new one, before any other thread can get its id.
  func intern(
    _ addresses: UnsafeBufferPointer<UInt64>,
    whenNew declare: (StackID, [UInt64], [ModuleRecord]) -> Void
  ) -> (id: StackID, isNew: Bool) {
    let key = Array(addresses)
    let generation = ProcessModules.generation()
    return table.withLock { t in
      Self.readMappings(into: &t, ifChangedSince: generation)
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

  /// Reads the mappings into `t` as `module` lines when the loader's
  /// counts are not those they were last read at.
  private static func readMappings(
    into t: inout Table, ifChangedSince generation: (adds: UInt64, subs: UInt64)
  ) {
    guard t.generation.map({ $0 != generation }) ?? true else { return }
    t.generation = generation
    if t.firstUnloads == nil { t.firstUnloads = generation.subs }
    for line in ExecutableMappings.records() where t.symbols.addModule(line) {
      t.undeclared.append(line)
    }
  }

  /// The `module` lines a trace begun now starts with: the mappings read
  /// now, handed to no stack's declaration after (the recorder writes them
  /// once).
  func linesForNewTrace() -> [ModuleRecord] {
    let generation = ProcessModules.generation()
    return table.withLock { t in
      Self.readMappings(into: &t, ifChangedSince: generation)
      let lines = t.undeclared
      t.undeclared.removeAll()
      return lines
    }
  }

  /// The addresses of stack `id`.
  func stack(_ id: StackID) -> [UInt64]? {
    table.withLock { t in
      id.raw >= 0 && Int(id.raw) < t.symbols.stacks.count ? t.symbols.stacks[Int(id.raw)] : nil
    }
  }

  /// The stacks and modules so far, and whether an object was unloaded
  /// since the first stack: the process's own objects then no longer hold
  /// every stack's code, whose files the module lines name.
  var symbols: (symbols: TraceSymbols, unloaded: Bool) {
    let unloads = ProcessModules.generation().subs
    return table.withLock { t in (t.symbols, t.firstUnloads.map { $0 != unloads } ?? false) }
  }
}
