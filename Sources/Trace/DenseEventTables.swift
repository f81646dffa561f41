import LockGraph

/// What the binary event loop looks up per event, one load each: for the
/// thread ids and class ids that `IDTable` keeps dense (below its dense
/// count), the thread's slot and `ThreadID`, and the `ClassID`. Ids past
/// these tables may still be declared (sparse): the loop asks the
/// `IDTable` then. Memory follows the `IDTable`s' dense arrays.
struct DenseEventTables {
  /// `slot | UInt64(UInt32(bitPattern: tid.raw)) << 32` per thread id, or
  /// `noThread`.
  private(set) var threads: [UInt64] = []
  /// `ClassID.raw` per class id, or `noClass`.
  private(set) var classes: [Int32] = []
  /// An undeclared thread id.
  static let noThread = UInt64.max
  /// An undeclared class id (no `ClassID` is this negative).
  static let noClass = Int32.min

  /// Records thread `id` at `slot` as `tid`; `denseCount` is the thread
  /// `IDTable`'s dense count after declaring it.
  mutating func declareThread(_ id: UInt64, slot: Int, _ tid: ThreadID, denseCount: Int) {
    if threads.count < denseCount {
      threads.append(contentsOf: repeatElement(Self.noThread, count: denseCount - threads.count))
    }
    if id < UInt64(threads.count) {
      threads[Int(id)] = UInt64(slot) | UInt64(UInt32(bitPattern: tid.raw)) << 32
    }
  }

  /// Records class `id` as `cid`; `denseCount` is the class `IDTable`'s
  /// dense count after declaring it.
  mutating func declareClass(_ id: UInt64, _ cid: ClassID, denseCount: Int) {
    if classes.count < denseCount {
      classes.append(contentsOf: repeatElement(Self.noClass, count: denseCount - classes.count))
    }
    if id < UInt64(classes.count) { classes[Int(id)] = cid.raw }
  }
}
