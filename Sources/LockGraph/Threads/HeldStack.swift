/// A thread's held-lock stack: lockdep's `held_locks[]` array with
/// `lockdep_depth`.
///
/// Unlike `Array`, pushing and popping do no uniqueness check and call no
/// out-of-line code: the entries live in a buffer that only grows (to the
/// deepest nesting the thread reached), owned by one `HeldStorage`, and the
/// count lives in this value, beside a copy of the buffer's address (one
/// dependent load less on the fast path). It is a stack with reference
/// storage: copies share the buffer, so only one copy may be changed, and
/// a copy must not be read after the original grew (a thread's state is
/// changed in place; copies are only read while it does not change;
/// `ThreadState()` makes a new buffer).
///
/// Invariants: entries `0..<count` are initialized;
/// `count <= capacity <= maxCapacity`; `base` and `capacity` are the
/// storage's.
@usableFromInline
struct HeldStack: RandomAccessCollection, @unchecked Sendable {
  @usableFromInline let storage: HeldStorage
  /// The number of held locks (lockdep's `curr->lockdep_depth`).
  @usableFromInline private(set) var count = 0
  /// The storage's buffer and capacity, copied.
  @usableFromInline private(set) var base: UnsafeMutablePointer<HeldLock>
  @usableFromInline private(set) var capacity: Int

  /// The most locks a stack holds (lockdep's `MAX_LOCK_DEPTH`): it never
  /// grows past this, so `hasRoom` implies a depth below the limit.
  static var maxCapacity: Int { ThreadValidator.maxHeldDepth }

  /// An empty stack with room for `capacity` locks before it grows.
  init(capacity: Int = 16) {
    storage = HeldStorage(capacity: capacity)
    base = storage.base
    self.capacity = storage.capacity
  }

  @inlinable var startIndex: Int { 0 }
  @inlinable var endIndex: Int { count }

  @inlinable @inline(__always)
  subscript(position: Int) -> HeldLock {
    get {
      precondition(position >= 0 && position < count, "held-lock index out of range")
      return base[position]
    }
    nonmutating set {
      precondition(position >= 0 && position < count, "held-lock index out of range")
      base[position] = newValue
    }
  }

  /// The newest held lock, or nil.
  @inlinable var top: HeldLock? {
    @inline(__always) get { count == 0 ? nil : base[count &- 1] }
  }

  /// Pushes `lock`.
  @inline(__always)
  mutating func append(_ lock: HeldLock) {
    if count == capacity {
      storage.grow()
      base = storage.base
      capacity = storage.capacity
    }
    (base + count).initialize(to: lock)
    count &+= 1
  }

  /// Whether a held lock is of exactly class `lockClass` (a variant, not
  /// its base): reads each entry's class and nothing else.
  @inline(__always)
  func holds(_ lockClass: ClassID) -> Bool {
    var i = 0
    while i < count {
      if base[i].lockClass == lockClass { return true }
      i &+= 1
    }
    return false
  }

  /// The held locks a new acquisition in interrupt context `context`
  /// depends on (`DependencyPrevs`).
  @inline(__always)
  func dependencyPrevs(inContext context: UInt8) -> DependencyPrevs {
    DependencyPrevs(base: base, index: count - 1, context: context)
  }

  /// Whether a lock can be pushed without growing the buffer.
  @inlinable var hasRoom: Bool {
    @inline(__always) get { count < capacity }
  }

  /// Pushes `lock` where `hasRoom` (the fast path, which must not call out).
  @inlinable @inline(__always)
  mutating func appendInPlace(_ lock: HeldLock) {
    assert(hasRoom)
    (base + count).initialize(to: lock)
    count &+= 1
  }

  /// Pops the newest lock.
  @inlinable @inline(__always)
  mutating func removeLast() {
    precondition(count > 0, "pop from an empty held-lock stack")
    count &-= 1
  }

  /// Pops the newest lock of a stack known not to be empty (its `top` was
  /// read): `removeLast()` without the test.
  @inlinable @inline(__always)
  mutating func removeTop() {
    assert(count > 0, "pop from an empty held-lock stack")
    count &-= 1
  }

  /// Pops every lock from `start` up.
  mutating func removeAll(from start: Int) {
    precondition(start >= 0 && start <= count, "held-lock index out of range")
    count = start
  }
}

/// The buffer of a `HeldStack`. `HeldLock` is a trivial type (plain words),
/// so entries need no deinitialization and a buffer is moved with a copy.
@usableFromInline
final class HeldStorage: @unchecked Sendable {
  // Unchecked: only the owning thread touches it (no dynamic exclusivity
  // check on the fast path).
  @usableFromInline @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<HeldLock>
  @usableFromInline @exclusivity(unchecked) private(set) var capacity: Int

  init(capacity: Int) {
    self.capacity = min(max(capacity, 1), HeldStack.maxCapacity)
    base = Self.allocate(self.capacity)
  }

  deinit { base.deallocate() }

  /// A buffer of `count` entries on a cache-line boundary: each 64-byte
  /// entry then fills one line. With malloc's 16-byte alignment, three
  /// buffers in four put every entry across two lines, so that a push
  /// stores to two lines and a pop loads from two.
  private static func allocate(_ count: Int) -> UnsafeMutablePointer<HeldLock> {
    UnsafeMutableRawPointer.allocate(
      byteCount: count * MemoryLayout<HeldLock>.stride, alignment: 64
    ).bindMemory(to: HeldLock.self, capacity: count)
  }

  /// Doubles the capacity, keeping the entries, up to `HeldStack.maxCapacity`.
  @inline(never)
  func grow() {
    precondition(capacity < HeldStack.maxCapacity, "more than MAX_LOCK_DEPTH held locks")
    let larger = min(capacity * 2, HeldStack.maxCapacity)
    let buffer = Self.allocate(larger)
    buffer.moveInitialize(from: base, count: capacity)
    base.deallocate()
    base = buffer
    capacity = larger
  }
}

/// lockdep's `check_prevs_add()` walk over a `HeldStack`: the held locks of
/// the newest segment of one interrupt context, newest first, skipping
/// check-free entries, going past trylocks and ending after the first
/// non-trylock. Valid while the stack does not change.
struct DependencyPrevs: IteratorProtocol {
  let base: UnsafeMutablePointer<HeldLock>
  /// The index of the next entry to look at; -1 at the end.
  var index: Int
  let context: UInt8

  @inline(__always)
  init(base: UnsafeMutablePointer<HeldLock>, index: Int, context: UInt8) {
    self.base = base
    self.index = index
    self.context = context
  }

  @inline(__always)
  mutating func next() -> HeldLock? {
    while index >= 0 && base[index].irqContext == context {
      let i = index
      index -= 1
      // Only an entry that takes part is copied out.
      if base[i].check {
        let prev = base[i]
        if !prev.isTrylock { index = -1 }
        return prev
      }
    }
    index = -1
    return nil
  }
}
