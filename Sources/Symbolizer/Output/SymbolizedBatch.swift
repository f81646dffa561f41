/// The answers for a run of addresses in a compact form: frames refer to
/// function names, source files and modules by number, and the batch carries
/// the table entries that earlier batches of the same sequence did not.
///
/// This is the form for streams of many addresses (`rawlockcheck symbolize`):
/// producing it allocates nothing per frame and touches no reference count,
/// and a `BatchRenderer` on another thread prints it without sharing any
/// mutable state with the symbolizing thread. Use `Symbolizer.symbolize(_:)`
/// for single addresses and `Frame` values.
///
/// A sequence is one batch value filled by `Symbolizer.symbolize(_:into:)`,
/// handed over (a copy) and emptied with `removeAnswers()`, again and again,
/// with one symbolizer; every batch of it must reach the same renderer, in
/// order.
///
/// Invariants: `addresses`, `moduleSlots` and `frameEnds` have one entry per
/// address; `frameEnds` is increasing and ends at `frames.count`, and every
/// address has at least one frame; `newNames` are the names numbered
/// `firstNewName ..< firstNewName + newNames.count` (likewise files and
/// modules); every number a frame uses is below the end of its table.
public struct SymbolizedBatch: Sendable {
  /// A module as the renderer needs it.
  struct Module: Sendable {
    var path: String
    var bias: UInt64
    var isStale: Bool
  }

  /// The addresses, in the order they were symbolized.
  public private(set) var addresses: [UInt64] = []
  /// Per address: its module's number (-1: no module).
  private(set) var moduleSlots: [Int32] = []
  /// Per address: one past its last frame in `frames`.
  private(set) var frameEnds: [Int32] = []
  /// Every address's frames, innermost first.
  var frames: [FrameRecord] = []

  /// Names, files and modules first numbered in this batch.
  var newNames: [SymbolName] = []
  var newFiles: [String] = []
  var newModules: [Module] = []
  /// The number of the first of each.
  private(set) var firstNewName = 0
  private(set) var firstNewFile = 0
  private(set) var firstNewModule = 0

  /// An empty batch, the start of a sequence.
  public init() {}

  /// The number of addresses answered.
  public var count: Int { addresses.count }
  /// Whether no address was answered.
  public var isEmpty: Bool { addresses.isEmpty }

  /// Empties the batch for the next one of its sequence: the answers and the
  /// new table entries go, what was delivered is remembered.
  public mutating func removeAnswers() {
    addresses.removeAll(keepingCapacity: true)
    moduleSlots.removeAll(keepingCapacity: true)
    frameEnds.removeAll(keepingCapacity: true)
    frames.removeAll(keepingCapacity: true)
    firstNewName += newNames.count
    firstNewFile += newFiles.count
    firstNewModule += newModules.count
    newNames.removeAll()
    newFiles.removeAll()
    newModules.removeAll()
  }

  /// Demangles the names this batch is first to deliver (each `SymbolName`
  /// keeps its readable form), so that the `BatchRenderer` that prints the
  /// batch, on another thread, only copies them: demangling is most of
  /// printing a name, and this spreads it over the threads that symbolize.
  public func demangleNewNames() {
    for name in newNames { _ = name.readable }
  }

  /// The number of names, files and modules the batches so far delivered.
  var deliveredNames: Int { firstNewName + newNames.count }
  var deliveredFiles: Int { firstNewFile + newFiles.count }
  var deliveredModules: Int { firstNewModule + newModules.count }

  /// Records the answer of `address`, whose frames were appended to `frames`.
  mutating func finishAnswer(address: UInt64, module: Int32) {
    addresses.append(address)
    moduleSlots.append(module)
    frameEnds.append(Int32(frames.count))
  }

  /// The frames of answer `index`.
  func frameRange(of index: Int) -> Range<Int> {
    (index == 0 ? 0 : Int(frameEnds[index - 1]))..<Int(frameEnds[index])
  }
}
