import Basics
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Turns code addresses into source frames (function, file:line, inlined
/// frames, demangled names) from DWARF, through elfutils.
///
/// Three sources of modules:
/// - `Symbolizer.inProcess()`: this process's loaded objects, refreshed after
///   every `dlopen` and `dlclose` (the dynamic linker's counters), and when
///   an address falls outside every known one (a later `dlopen`);
/// - `init(modules:debugDirectories:binaries:)`: a trace's `module` records;
/// - `init(executable:debugDirectories:)`: one ELF file addressed by its own
///   link-time addresses (like `llvm-symbolizer --obj` and `addr2line -e`).
///
/// Thread-safe: one `Dwfl` behind one mutex. Results are cached per address,
/// so symbolizing a stack seen before costs a hash lookup per frame.
public final class Symbolizer: Sendable {
  /// Where the modules come from, to open them again for a lane.
  private enum Source: Sendable {
    case inProcess
    case records([ModuleRecord], binaries: [String])
    case executable(String)
  }

  /// The modules, indexes and caches, under the symbolizer's lock.
  let engine: PThreadMutex<SymbolizerEngine>
  /// How each module was resolved (for offline symbolizers: one per distinct
  /// file and bias, in record order).
  public let modules: [ModuleResolution]
  private let source: Source
  private let debugDirectories: [String]
  private let cachesAddresses: Bool
  /// What this symbolizer shares with its lanes.
  let lanes: LaneShare

  /// A symbolizer for this process's own addresses. `debugDirectories` are
  /// searched for separate debug files (`<dir>/.build-id/xx/yyyy.debug`) in
  /// addition to `/usr/lib/debug`.
  public static func inProcess(debugDirectories: [String] = []) -> Symbolizer {
    Symbolizer(
      source: .inProcess, debugDirectories: debugDirectories, cachesAddresses: true,
      lanes: LaneShare())
  }

  /// A symbolizer for a trace's addresses. Each record's file is taken
  /// from `binaries` (ELF files named by the user: one whose build-id is
  /// the record's, or, for a record without a build-id, one with the
  /// record's base name), else read at its path, or found under
  /// `debugDirectories` (by base name, by the original path below the
  /// directory, or by build-id) and `/usr/lib/debug`; a file whose build-id
  /// differs from the record's is never used, and the module's frames come
  /// back with `isStale` set and no names.
  public convenience init(
    modules records: [ModuleRecord], debugDirectories: [String] = [], binaries: [String] = []
  ) {
    self.init(
      source: .records(records, binaries: binaries), debugDirectories: debugDirectories,
      cachesAddresses: true, lanes: LaneShare())
  }

  /// Whether `path` is a regular file that reads as ELF (what `binaries`
  /// and `init(executable:)` take).
  public static func isELFFile(_ path: String) -> Bool { ElfFileInfo.read(path) != nil }

  /// Why `path` cannot be read as a whole ELF file: it cannot be opened,
  /// is not ELF, or is cut short (`truncated ELF file: its section headers
  /// end at byte ..., past its ... bytes`); nil when it can.
  public static func elfFileProblem(_ path: String) -> String? {
    guard let info = ElfFileInfo.read(path) else { return unreadableReason(path) }
    return truncation(of: info)
  }

  /// `truncated ELF file: ...` when `path` is an ELF file cut short
  /// (`elfFileProblem`), else nil (whole, or no ELF file to tell).
  public static func elfTruncation(_ path: String) -> String? {
    ElfFileInfo.read(path).flatMap(truncation(of:))
  }

  /// What `elfFileProblem` says of an ELF file cut short, read once.
  private static func truncation(of info: ElfFileInfo) -> String? {
    info.truncation.map { "truncated ELF file: \($0)" }
  }

  /// Why `path` is no ELF file to read: it cannot be opened (and why), is
  /// a directory, a FIFO or a device, or holds something else.
  static func unreadableReason(_ path: String) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else { return "cannot open: \(String(cString: strerror(errno)))" }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: return "cannot open: Is a directory"
    default: return "not a regular file (a FIFO, socket or device), so no ELF file"
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return "cannot open: \(String(cString: strerror(errno)))" }
    close(fd)
    return "not an ELF file"
  }

  /// A symbolizer for one ELF file's link-time addresses.
  ///
  /// With `cachesAddresses: false`, answers are not kept per address: for a
  /// stream of mostly distinct addresses (`rawlockcheck symbolize`), where
  /// the cache would cost more time than its hits save and grow with the
  /// input.
  public convenience init(
    executable path: String, debugDirectories: [String] = [], cachesAddresses: Bool = true
  ) {
    self.init(
      source: .executable(path), debugDirectories: debugDirectories,
      cachesAddresses: cachesAddresses, lanes: LaneShare())
  }

  private init(
    source: Source, debugDirectories: [String], cachesAddresses: Bool, lanes: LaneShare
  ) {
    let engine = SymbolizerEngine(
      inProcess: { if case .inProcess = source { true } else { false } }(),
      debugDirectories: debugDirectories, cachesAddresses: cachesAddresses, lanes: lanes)
    switch source {
    case .inProcess:
      engine.refreshProcessModules()
      modules = engine.slots.map {
        ModuleResolution(
          path: $0.path, resolvedPath: $0.resolvedPath,
          status: $0.isStale ? .stale : ($0.module == nil ? .missing : .ok))
      }
    case .records(let records, let binaries):
      modules = engine.report(records: records, binaries: binaries)
    case .executable(let path):
      modules = [engine.report(executable: path)]
    }
    self.engine = PThreadMutex(engine)
    self.source = source
    self.debugDirectories = debugDirectories
    self.cachesAddresses = cachesAddresses
    self.lanes = lanes
  }

  /// The paths of the modules this symbolizer looked up an address in and
  /// found no DWARF for (neither in the file nor in a debug file through
  /// its `.gnu_debuglink` or build-id): their frames name functions from
  /// the symbol table, without file:line.
  public var modulesWithoutDWARF: [String] {
    engine.withLock { engine in
      engine.slotsOfDistinctFiles.filter { $0.lacksDWARF && $0.unreadableDebugInfo == nil }.map(
        \.path)
    }
  }

  /// The modules this symbolizer looked up an address in whose DWARF is
  /// split (`-gsplit-dwarf`) and some of whose `.dwo` files were not found
  /// (moved, deleted, or packed into a `.dwp`, which libdw 0.188 does not
  /// read), each with those files' names: their functions are named from
  /// the symbol table, without inlined frames.
  public var modulesWithMissingSplitUnits: [(module: String, dwoFiles: [String])] {
    engine.withLock { engine in
      engine.slotsOfDistinctFiles.compactMap { slot in
        let missing = slot.missingSplitUnits
        return missing.isEmpty ? nil : (slot.path, missing)
      }
    }
  }

  /// The modules this symbolizer looked up an address in whose DWARF is
  /// there but could not be read (damaged, or compressed in a form libelf
  /// cannot inflate), each with the separate debug file that holds it
  /// (nil: the module's own file): their frames name functions from the
  /// symbol table, without file:line.
  public var modulesWithUnreadableDWARF: [(module: String, debugFile: String?)] {
    engine.withLock { engine in
      engine.slotsOfDistinctFiles.compactMap { slot in
        guard slot.lacksDWARF, let unreadable = slot.unreadableDebugInfo else { return nil }
        switch unreadable {
        case .own: return (slot.path, nil)
        case .separate(let path): return (slot.path, path)
        }
      }
    }
  }

  /// Another symbolizer over the same modules, for another thread: its own
  /// `Dwfl`, indexes and lock, so that lanes symbolize in parallel, but it
  /// reuses the DWARF images this one (or another lane) inflated and shares
  /// `SymbolName`s with them, so a name is demangled once among all lanes.
  ///
  /// Lanes pay off when each reads its own part of the DWARF: give each the
  /// addresses of its own `LookupLocality` keys (as `rawlockcheck symbolize`
  /// does); two lanes that meet every compilation unit both index all of them.
  public func lane() -> Symbolizer {
    Symbolizer(
      source: source, debugDirectories: debugDirectories, cachesAddresses: cachesAddresses,
      lanes: lanes)
  }

  /// The compilation units (and, for modules without DWARF, the modules)
  /// of this symbolizer's address space, as a value any thread can consult:
  /// addresses with the same key share index work. Opens the DWARF of every
  /// module that has some.
  public func lookupLocality() -> LookupLocality {
    engine.withLock { engine in
      engine.refreshIfModulesChanged()
      return engine.lookupLocality()
    }
  }

  /// The frames of `address`, innermost first. Pass `isReturnAddress: true`
  /// for addresses from a stack (every captured frame and every trace
  /// `stack`/`ip=` address): the lookup then uses `address - 1`, inside the
  /// call instruction, so the line is the call's and not the next statement's.
  public func symbolize(_ address: UInt64, isReturnAddress: Bool = false) -> SymbolizedAddress {
    let frames = engine.withLock { engine in
      engine.refreshIfModulesChanged()
      return engine.frames(for: address, isReturnAddress: isReturnAddress)
    }
    return SymbolizedAddress(address: address, frames: frames)
  }

  /// Appends the answer for `address` to `batch`, in the compact form a
  /// `BatchRenderer` prints (see `SymbolizedBatch`), for streams of many
  /// addresses: no `Frame` values, no reference counting per frame, and no
  /// per-address cache. Every batch of a sequence must come from this
  /// symbolizer.
  public func symbolize(
    _ address: UInt64, isReturnAddress: Bool = false, into batch: inout SymbolizedBatch
  ) {
    engine.withLock { engine in
      engine.refreshIfModulesChanged()
      engine.symbolize(address, isReturnAddress: isReturnAddress, into: &batch)
    }
  }

  /// The frames of every return address of a captured stack, innermost first.
  public func symbolize(stack: some Sequence<UInt64>) -> [SymbolizedAddress] {
    let addresses = Array(stack)
    return engine.withLock { engine in
      engine.refreshIfModulesChanged()
      return addresses.map {
        SymbolizedAddress(address: $0, frames: engine.frames(for: $0, isReturnAddress: true))
      }
    }
  }

  /// Symbolizes `stack` and flattens the frames (innermost first).
  public func frames(ofStack stack: some Sequence<UInt64>) -> [Frame] {
    symbolize(stack: stack).flatMap(\.frames)
  }
}
