import Basics
import LockGraph

/// What a trace declares for symbolization: its modules, and its stacks
/// indexed by `StackID`.
public struct TraceSymbols: Sendable {
  /// The `module` lines and which of them each stack is of.
  private var views = ModuleViews()
  /// The `stack` lines' return addresses, innermost first: each distinct
  /// list once (`internStack`), indexed by `StackID`.
  public private(set) var stacks: [[UInt64]] = []
  /// How many `module` lines each stack was declared after: its addresses
  /// are of those (`ModuleViews`).
  public private(set) var modulesBefore: [Int32] = []
  /// `stacks` by their addresses.
  private var stackIndex = StackIndex()
  /// Stacks of the same addresses as one before them but of other module
  /// lines (a library mapped where another was), by both.
  private var otherLineStacks: [OtherLineStack: Int32] = [:]
  /// The line each address of a stack declared after a line was replaced
  /// is of (`ModuleViews.linesNow` then), by stack.
  private var stackLines: [Int32: [Int32]] = [:]
  /// No modules and no stacks.
  public init() {}

  /// A stack's addresses and the records they are of.
  private struct OtherLineStack: Hashable, Sendable {
    var addresses: [UInt64]
    var records: [Int32]
  }

  /// The `module` lines, in trace order, each line once while it is in
  /// force (`addModule`).
  public var modules: [ModuleRecord] { views.lines }

  /// Whether a `module` line replaced another (a library mapped where one
  /// was unloaded): stacks declared before and after it may hold the same
  /// addresses in other files.
  public var hasReplacedModules: Bool { views.replacements > 0 }

  /// The modules a symbolizer of this trace is made of: `modules`, with
  /// each replaced one moved to a range of its own (`ModuleViews`), where
  /// `lookupAddresses(of:)` looks its stacks' addresses up.
  public var symbolizerModules: [ModuleRecord] { views.symbolizerModules }

  /// Adds a `module` line, unless the same line (range, offset, path and
  /// build-id) is in force already: a recorder that writes the mappings
  /// again after a library is loaded repeats the others, which say
  /// nothing new and would be kept and looked up once for each time. A
  /// line overlapping one in force replaces it (a library mapped where
  /// another was): the stacks declared after it are of the new one, those
  /// before it of the old. Returns whether the line was added.
  ///
  /// `buildIDMayBeLate`: a line that differs from the one in force over
  /// its range only by a missing build-id is that line (a live process's
  /// mappings, read while a `dlopen` finished).
  @discardableResult
  public mutating func addModule(_ module: ModuleRecord, buildIDMayBeLate: Bool = false) -> Bool {
    views.add(module, buildIDMayBeLate: buildIDMayBeLate)
  }

  /// The index in `stacks` (the `StackID`) of a declared stack: a stack
  /// declared before with the same addresses, under whatever id, is the
  /// same stack, so that its findings are one finding ("from the same
  /// stack", spec/reports.md) and it is kept once; unless a module line
  /// replaced another since, and the addresses are of other files now.
  public mutating func internStack(_ addresses: [UInt64]) -> Int32 {
    let (known, hash) = stackIndex.find(addresses, in: stacks)
    guard views.replacements > 0 else {
      if let known { return known }
      let index = append(addresses)
      stackIndex.insert(index, hash: hash, of: stacks)
      return index
    }
    let lines = views.linesNow(addresses)
    if let known {
      let records = views.records(of: lines)
      // An address no line held when the known stack was declared is of
      // the lines in force (its lookup is where it is): it agrees with any.
      let knownRecords = views.records(of: self.lines(ofStack: Int(known)))
      if zip(knownRecords, records).allSatisfy({ $0 == -1 || $0 == $1 }) { return known }
      let key = OtherLineStack(addresses: addresses, records: records)
      if let other = otherLineStacks[key] { return other }
      let index = append(addresses)
      stackLines[index] = lines
      otherLineStacks[key] = index
      return index
    }
    let index = append(addresses)
    stackLines[index] = lines
    stackIndex.insert(index, hash: hash, of: stacks)
    return index
  }

  /// The line each address of stack `index` is of (-1: none).
  private func lines(ofStack index: Int) -> [Int32] {
    stackLines[Int32(index)]
      ?? views.linesBeforeReplacement(stacks[index], before: Int(modulesBefore[index]))
  }

  private mutating func append(_ addresses: [UInt64]) -> Int32 {
    let index = Int32(stacks.count)
    stacks.append(addresses)
    modulesBefore.append(Int32(views.lines.count))
    return index
  }

  /// The module line each return address of stack `index` is of (nil:
  /// none): of the lines in force when it was declared, else at the end.
  public func modules(ofStack index: Int) -> [ModuleRecord?] {
    guard views.replacements > 0 else { return stacks[index].map(module(holding:)) }
    return zip(stacks[index], lines(ofStack: index)).map { address, line in
      line >= 0 ? modules[Int(line)] : module(holding: address)
    }
  }

  /// The module line holding return address `address` at the end (an
  /// `ip=` without a stack): the line in force, or, when no line was
  /// replaced, the first declared.
  public func module(holding address: UInt64) -> ModuleRecord? {
    let call = address &- 1
    guard views.replacements > 0 else {
      return address == 0 ? nil : modules.first { call >= $0.start && call < $0.end }
    }
    let line = views.lineInForce(holding: address)
    return line >= 0 ? modules[Int(line)] : nil
  }

  /// The addresses of stack `id`, or nil when there is no such stack.
  public func stack(_ id: StackID) -> [UInt64]? {
    id.raw >= 0 && Int(id.raw) < stacks.count ? stacks[Int(id.raw)] : nil
  }

  /// `lookupAddresses(of:)` by `StackID`, for a resolver; nil when no line
  /// was replaced (every stack is looked up where it is).
  public var lookups: (@Sendable (StackID) -> [UInt64]?)? {
    guard hasReplacedModules else { return nil }
    let symbols = self
    return { id in symbols.stack(id) == nil ? nil : symbols.lookupAddresses(of: Int(id.raw)) }
  }

  /// The addresses of stack `index` where `symbolizerModules` holds their
  /// code: the stack's own, but where its module was replaced since.
  public func lookupAddresses(of index: Int) -> [UInt64] {
    let addresses = stacks[index]
    guard views.replacements > 0 else { return addresses }
    return zip(addresses, lines(ofStack: index)).map { views.lookupAddress($0, line: $1) }
  }
}
