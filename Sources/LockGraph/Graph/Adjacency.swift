/// One edge as a class's adjacency list holds it: the class at its other
/// end, its kinds and its index in `DependencyGraph.edges`, packed in one
/// word, so that a search walks a class's edges through contiguous words
/// and reads no `Edge` (56 bytes, a cache miss each in a large graph).
///
/// Layout: the other class in bits 0 to 23 (class ids are below 2^20,
/// `ClassRegistry.capacity`), the kinds in bits 24 to 31, the edge's index
/// in bits 32 to 63.
struct AdjacentEdge: Sendable, Equatable {
  /// The packed word.
  private(set) var raw: UInt64

  /// The entry of edge `edge`, whose other end is class `other`.
  @inline(__always)
  init(other: Int, kinds: DependencyKinds, edge: Int32) {
    assert(other >= 0 && other < 1 << 24, "a class id past the class table")
    raw =
      UInt64(UInt32(bitPattern: edge)) << 32 | UInt64(kinds.rawValue) << 24 | UInt64(other)
  }

  /// The class at the other end of the edge.
  @inline(__always) var other: Int { Int(truncatingIfNeeded: raw & 0xFF_FFFF) }

  /// The edge's kinds (as `DependencyGraph.Edge.kinds`, never reversed).
  @inline(__always) var kinds: DependencyKinds {
    get { DependencyKinds(rawValue: UInt8(truncatingIfNeeded: raw >> 24)) }
    set { raw = raw & ~0xFF00_0000 | UInt64(newValue.rawValue) << 24 }
  }

  /// The edge's index in `DependencyGraph.edges`.
  @inline(__always) var edge: Int32 { Int32(truncatingIfNeeded: raw >> 32) }
}

/// The edges of each class on one side (out of it, or into it), each
/// class's in the order they were added (lockdep's `list_add_tail_rcu()`
/// onto `locks_after` or `locks_before`: a search visits edges in that
/// order).
///
/// All lists share one flat array, each class's a block of it, so that a
/// search reads a class's edges as contiguous words with no reference
/// counting (an array per class cost a retain of its buffer, and that
/// buffer's header a cache miss, per class expanded). A full block moves
/// to the end of the array with twice the room, leaving its old place
/// unused: the array holds at most about four entries per edge.
///
/// Invariants: `DependencyGraph` appends every edge to its `from`'s list
/// out and its `to`'s list in, and keeps each entry's kinds equal to its
/// edge's; class c's list is `entries[start[c] ..< start[c] + count[c]]`,
/// and its block has room for `Self.room(count[c])` entries.
struct Adjacency: Sendable {
  private var entries: [AdjacentEdge] = []
  /// Per class, where its block starts and how many entries it holds; a
  /// class past the end has none.
  private var start: [Int32] = []
  private var count: [Int32] = []

  /// The room of a block holding `n` entries: at least 2, and a power of
  /// two (a block moves when it is full).
  @inline(__always)
  private static func room(_ n: Int32) -> Int32 {
    n <= 2 ? 2 : Int32(1) << (32 - (n - 1).leadingZeroBitCount)
  }

  /// The positions of class `c`'s edges on this side, in the order they
  /// were added (read each with `subscript(position:)`).
  @inline(__always)
  func positions(of c: Int) -> Range<Int> {
    guard c < start.count else { return 0..<0 }
    let first = Int(start[c])
    return first..<first + Int(count[c])
  }

  /// The entry at `position` (one of `positions(of:)`).
  @inline(__always)
  subscript(position position: Int) -> AdjacentEdge { entries[position] }

  /// Appends `entry` to class `c`'s list.
  mutating func append(_ entry: AdjacentEdge, to c: Int) {
    if start.count <= c {
      start.append(contentsOf: repeatElement(0, count: c + 1 - start.count))
      count.append(contentsOf: repeatElement(0, count: c + 1 - count.count))
    }
    let n = count[c]
    if n == 0 || n == Self.room(n) {
      // A new block, or a full one: moved to the end with twice the room.
      let first = Int32(entries.count)
      let old = Int(start[c])
      // One at a time: a slice of `entries` appended to it would hold its
      // buffer, and make the append copy the whole array.
      for k in old..<old + Int(n) { entries.append(entries[k]) }
      entries.append(
        contentsOf: repeatElement(entry, count: Int(n == 0 ? Self.room(0) : 2 * n) - Int(n)))
      start[c] = first
    }
    entries[Int(start[c] + n)] = entry
    count[c] = n + 1
  }

  /// Sets the kinds of edge `edge` in class `c`'s list (a search of that
  /// list: kinds are added to an edge rarely, and lists are short).
  mutating func setKinds(_ kinds: DependencyKinds, ofEdge edge: Int32, at c: Int) {
    guard let i = positions(of: c).first(where: { entries[$0].edge == edge }) else {
      preconditionFailure("edge \(edge) is not in class \(c)'s list")
    }
    entries[i].kinds = kinds
  }
}
