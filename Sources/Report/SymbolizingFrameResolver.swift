import Basics
import LockGraph
import Symbolizer

#if canImport(Glibc)
  import Glibc
#endif

/// Frames of stacks symbolized from DWARF: a trace's stacks through its
/// `module` lines, or a live process's own stacks.
public struct SymbolizingFrameResolver: FrameResolving {
  let symbolizer: Symbolizer
  let stacks: @Sendable (StackID) -> [UInt64]?
  /// Where each stack's addresses are looked up, when not where they are
  /// (a trace's module that another replaced: `TraceSymbols`).
  let lookups: (@Sendable (StackID) -> [UInt64]?)?
  let filter: FrameFilter
  /// Where the stacks' addresses lie in `symbolizer`'s layout, when it is
  /// another trace's (`SymbolizerPool`).
  let shift: AddressShift?
  /// The frame counts of stacks counted so far.
  let counts = StackFrameCounts()

  /// A resolver of `stacks` (addresses by `StackID`) through `symbolizer`.
  public init(
    symbolizer: Symbolizer, stacks: @escaping @Sendable (StackID) -> [UInt64]?,
    filter choice: FrameFilterChoice
  ) {
    self.init(symbolizer: symbolizer, stacks: stacks, filter: choice, shift: nil)
  }

  /// A resolver of `stacks` whose addresses `symbolizer` looks up where
  /// `lookups` says (a trace's `TraceSymbols.lookupAddresses(of:)` in a
  /// symbolizer of its `symbolizerModules`); frames keep the stacks' own.
  public init(
    symbolizer: Symbolizer, stacks: @escaping @Sendable (StackID) -> [UInt64]?,
    lookups: (@Sendable (StackID) -> [UInt64]?)?, filter choice: FrameFilterChoice
  ) {
    self.init(symbolizer: symbolizer, stacks: stacks, filter: choice, shift: nil, lookups: lookups)
  }

  init(
    symbolizer: Symbolizer, stacks: @escaping @Sendable (StackID) -> [UInt64]?,
    filter choice: FrameFilterChoice, shift: AddressShift?,
    lookups: (@Sendable (StackID) -> [UInt64]?)? = nil
  ) {
    self.symbolizer = symbolizer
    self.stacks = stacks
    self.lookups = lookups
    self.shift = shift
    var filter = choice.keepOwnFrames ? FrameFilter() : FrameFilter.rawlockcheckMachinery
    filter.functionPrefixes += choice.hidden + choice.hidden.compactMap(Self.mangledModulePrefix)
    self.filter = filter
  }

  /// A resolver of a trace's stacks through its `module` lines, their
  /// files found as `Symbolizer.init(modules:debugDirectories:binaries:)`
  /// finds them.
  public init(
    modules: [ModuleRecord], stacks: [[UInt64]], debugDirectories: [String],
    binaries: [String] = [], filter choice: FrameFilterChoice
  ) {
    self.init(
      symbolizer: Symbolizer(
        modules: modules, debugDirectories: debugDirectories, binaries: binaries),
      stacks: { id in Int(id.raw) < stacks.count ? stacks[Int(id.raw)] : nil }, filter: choice)
  }

  /// The mangled-name prefix of the functions of Swift module `name`
  /// (`$s11AudioKernel` for `AudioKernel`; `$ss` for `Swift`), when `name`
  /// is a Swift identifier: demangled names do not carry their module, so
  /// a module is hidden by its mangled prefix.
  static func mangledModulePrefix(_ name: String) -> String? {
    if name == "Swift" { return "$ss" }
    guard let first = name.unicodeScalars.first, !("0"..."9").contains(first),
      name.unicodeScalars.allSatisfy({
        ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
          || $0 == "_"
      })
    else { return nil }
    return "$s\(name.utf8.count)\(name)"
  }

  /// The one symbolizer it looks addresses up with.
  public var symbolizers: [Symbolizer] { [symbolizer] }

  /// How each of the trace's modules was resolved.
  public var modules: [ModuleResolution] { symbolizer.modules }

  /// Modules whose file was not found or does not match the trace, as
  /// warnings for the user.
  public var moduleWarnings: [String] {
    symbolizer.modules.compactMap { resolution in
      switch resolution.status {
      case .ok:
        // Opened, but cut short (a copy that stopped, a full disk): the
        // frames past its end print as addresses without a word else.
        Symbolizer.elfTruncation(resolution.resolvedPath ?? resolution.path).map {
          "module \(resolution.path): \($0): some or all of its frames print as addresses"
        }
      case .missing:
        if let problem = Self.unreadableProblem(resolution.path) {
          "module \(resolution.path): \(problem): its frames print as addresses"
        } else {
          "module \(resolution.path) not found: its frames print as addresses"
        }
      case .stale:
        "module \(resolution.path) has another build-id than the trace: its frames are marked [stale binary]"
      }
    }
  }

  /// Why a module's file that exists (as the trace names it) was not
  /// read: a directory, a FIFO or device, no ELF file, no permission; nil
  /// when nothing is at that path (the module is simply not found).
  static func unreadableProblem(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 || errno != ENOENT else { return nil }
    return Symbolizer.elfFileProblem(path) ?? "cannot be read by libdw"
  }

  /// The frames of the origin's stack (or return address), symbolized,
  /// with the filtered leading frames left out. A file known only from the
  /// symbol table (`Frame.fileIsFromSymbolTable`: `crtstuff.c` for every
  /// function of a library without DWARF) is left out: a report names the
  /// function alone rather than a file the code is not in.
  public func frames(for origin: Origin) -> [Frame] {
    guard let addresses = addresses(of: origin) else { return [] }
    return frames(of: symbolized(addresses, 0..<addresses.shown.count))
  }

  /// The first `limit` of `frames(for:)`, from as few of the stack's
  /// addresses as give them: the first `limit` and a few more (leading
  /// frames may be left out), twice as many until the filter's leading run
  /// ends among them and they give `limit` frames, or the stack ends.
  public func frames(for origin: Origin, first limit: Int) -> [Frame] {
    guard let addresses = addresses(of: origin) else { return [] }
    let count = addresses.shown.count
    var taken = min(count, max(limit, 0) + 8)
    var part = symbolized(addresses, 0..<taken)
    while true {
      if taken == count || part.contains(where: filter.keeps) {
        let frames = frames(of: part)
        if frames.count >= limit || taken == count {
          return Array(frames.prefix(limit))
        }
      }
      let more = min(count, taken * 2)
      part += symbolized(addresses, taken..<more)
      taken = more
    }
  }

  /// How many frames `frames(for:)` has: counted once a stack (`counts`),
  /// so that a stack printed again and again is symbolized whole once.
  public func frameCount(for origin: Origin) -> Int {
    guard !origin.stack.isNone, stacks(origin.stack) != nil else {
      return frames(for: origin).count
    }
    if let known = counts.known(origin.stack) { return known }
    let count = frames(for: origin).count
    counts.note(origin.stack, count)
    return count
  }

  /// The addresses of the origin's stack, else its return address, and
  /// where they are looked up; nil when it has neither.
  private func addresses(of origin: Origin) -> (shown: [UInt64], lookup: [UInt64])? {
    if !origin.stack.isNone, let stack = stacks(origin.stack) {
      guard let lookups, let lookup = lookups(origin.stack), lookup.count == stack.count else {
        return (stack, stack)
      }
      return (stack, lookup)
    }
    return origin.ip != 0 ? ([origin.ip], [origin.ip]) : nil
  }

  /// The addresses at `range` symbolized, each with the trace's own address
  /// (not the one it was looked up at: a shared layout's, a replaced
  /// module's).
  private func symbolized(
    _ addresses: (shown: [UInt64], lookup: [UInt64]), _ range: Range<Int>
  ) -> [SymbolizedAddress] {
    let shown = Array(addresses.shown[range])
    let lookup = Array(addresses.lookup[range])
    var symbolized = symbolizer.symbolize(stack: shift.map { s in lookup.map(s.moved) } ?? lookup)
    if shift != nil || shown != lookup {
      for (i, address) in shown.enumerated() where symbolized[i].address != address {
        let delta = symbolized[i].address &- address
        symbolized[i].address = address
        for j in symbolized[i].frames.indices { symbolized[i].frames[j].address &-= delta }
      }
    }
    return symbolized
  }

  /// The frames of `symbolized`, the filtered leading ones left out, and
  /// a file known only from the symbol table left out of each.
  private func frames(of symbolized: [SymbolizedAddress]) -> [Frame] {
    filter.apply(symbolized).flatMap(\.frames).map { frame in
      guard frame.fileIsFromSymbolTable else { return frame }
      var frame = frame
      frame.file = nil
      return frame
    }
  }
}

/// The frame counts of the stacks a report printed
/// (`SymbolizingFrameResolver.frameCount(for:)`), by stack.
final class StackFrameCounts: Sendable {
  private let counts = PThreadMutex<[StackID: Int]>([:])

  /// The count noted for `stack`, if any.
  func known(_ stack: StackID) -> Int? { counts.withLock { $0[stack] } }

  /// Notes `stack`'s count.
  func note(_ stack: StackID, _ count: Int) { counts.withLock { $0[stack] = count } }
}

/// Which leading frames `report` leaves out of stacks: rawlockcheck's own
/// (unless `--all-frames`) and those named by `--hide-frames`.
public struct FrameFilterChoice: Sendable {
  /// Function-name prefixes of leading frames to leave out.
  public var hidden: [String]
  /// Keep rawlockcheck's own frames.
  public var keepOwnFrames: Bool

  /// A choice of hidden prefixes, and whether to keep rawlockcheck's own frames.
  public init(hidden: [String] = [], keepOwnFrames: Bool = false) {
    self.hidden = hidden
    self.keepOwnFrames = keepOwnFrames
  }
}
