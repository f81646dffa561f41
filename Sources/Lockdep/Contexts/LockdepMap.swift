import LockGraph
import WaitContext

extension Checked {
  /// A validated object that is not a lock of this module (the kernel's
  /// `struct lockdep_map` with `lock_map_acquire()`): a read-side section, a
  /// completion, a custom primitive. Acquire and release it around what it
  /// guards, and the validator checks it as a lock of its kind.
  ///
  /// For example, a read-side section of an RCU of your own:
  /// `LockdepMap(.rcu, name: "my_rcu_read_lock")` (the `RCU` module's own
  /// class is `rcu_read_lock`: a second class of that name would print as
  /// `rcu_read_lock#2`), acquired on entry and released on exit (RCU kinds are
  /// always taken as recursive reads and add no graph edges). A wait-override
  /// annotation, as the kernel's `DEFINE_WAIT_OVERRIDE_MAP(name, inner)`:
  /// `LockdepMap(.waitOverride, inner: .sleep, name: "printk_legacy_map")`,
  /// acquired with `acquire(trylock: true)` (`lock_map_acquire_try()`),
  /// inside which the wait-type limit is its inner type.
  ///
  /// This is the validated form, whatever the build; `LockdepMap` names it in
  /// debug builds (and with the `Validation` trait), and `Plain.LockdepMap`,
  /// which does nothing, otherwise.
  public final class LockdepMap: ValidatedLock, @unchecked Sendable {
    /// The kind of lock it is checked as.
    public let kind: LockKind

    /// A map of `kind`, of the class of this place in the code or of `key`, with the
    /// kind's wait types, or with `inner`, `outer` and `lockType` given
    /// (`lockdep_init_map_type()`). `.waitOverride` and `.custom` have no
    /// wait type of their own and need `inner` (the kernel's
    /// `DEFINE_WAIT_OVERRIDE_MAP(name, inner)`); a `lockType` other than
    /// the kind's fixed one is refused. Either misuse stops the program.
    public init(
      _ kind: LockKind, inner: WaitType? = nil, outer: WaitType? = nil,
      lockType: LockType? = nil, name: String? = nil, key: LockClassKey? = nil,
      fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      self.kind = kind
      let waits: ClassWaitTypes
      do {
        waits = try ClassWaitTypes(kind: kind, inner: inner, outer: outer, lockType: lockType)
      } catch .innerRequired {
        fatalError(
          "rawlockcheck: LockdepMap(.\(kind)) needs inner: (its wait type), as the kernel's DEFINE_WAIT_OVERRIDE_MAP(name, inner)"
        )
      } catch {
        fatalError(
          "rawlockcheck: LockdepMap(.\(kind)) has a fixed lock type; lockType: must be nil")
      }
      super.init(
        kind: kind, waits: waits, name: name, key: key, fileID: fileID, line: line, column: column)
    }

    /// Records an acquisition (`lock_map_acquire()`, or a read with
    /// `read`), as lockdep's `lock_acquire()` takes one: nested at
    /// `subclass` (0 to 7, as `lock(subclass:)`), or under `nestLock`,
    /// which must be held (as `lock(nestLock:)`: a lock of this module or
    /// a map, such as another lock type's of your own; any other object
    /// serializes nothing the validator knows of, and is ignored), so that
    /// a lock type of your own built on a map can offer both.
    public func acquire(
      read: Bool = false, recursive: Bool = false, trylock: Bool = false, subclass: Int = 0,
      nestLock: AnyObject? = nil
    ) {
      validateAcquire(
        read: read ? (recursive ? .recursive : .shared) : .exclusive, trylock: trylock,
        subclass: subclass, nest: nestLock as? ValidatedLock)
    }

    /// `acquire(read:recursive:trylock:subclass:nestLock:)` from call site
    /// `ip` (lockdep's `lock_acquire(..., ip)`): a lock type of your own
    /// passes its caller's address, `LockValidation.returnAddress()`, so
    /// that reports name the line that took it rather than the lock
    /// type's function.
    public func acquire(
      read: Bool = false, recursive: Bool = false, trylock: Bool = false, subclass: Int = 0,
      nestLock: AnyObject? = nil, from ip: UInt64
    ) {
      validateAcquire(
        read: read ? (recursive ? .recursive : .shared) : .exclusive, trylock: trylock,
        subclass: subclass, nest: nestLock as? ValidatedLock, ip: ip)
    }

    /// Records the release.
    public func release() { validateRelease(ip: callerAddress) }
  }
}

extension Plain {
  /// `Checked.LockdepMap`'s operations, doing nothing: what `LockdepMap`
  /// names in release builds.
  public final class LockdepMap: Sendable {
    /// The kind of lock it would be checked as.
    public let kind: LockKind

    /// A map of `kind` (wait types and class arguments ignored).
    @inlinable
    public init(
      _ kind: LockKind, inner: WaitType? = nil, outer: WaitType? = nil,
      lockType: LockType? = nil, name: String? = nil, key: LockClassKey? = nil,
      fileID: String = #fileID, line: Int = #line,
      column: Int = #column
    ) {
      self.kind = kind
    }

    /// Does nothing.
    @inlinable @inline(__always)
    public func acquire(
      read: Bool = false, recursive: Bool = false, trylock: Bool = false, subclass: Int = 0,
      nestLock: AnyObject? = nil
    ) {}

    /// Does nothing.
    @inlinable @inline(__always)
    public func acquire(
      read: Bool = false, recursive: Bool = false, trylock: Bool = false, subclass: Int = 0,
      nestLock: AnyObject? = nil, from ip: UInt64
    ) {}

    /// Does nothing.
    @inlinable @inline(__always)
    public func release() {}

    /// Checks nothing.
    @inlinable public func assertHeld(file: StaticString = #fileID, line: UInt = #line) {}

    /// Checks nothing.
    @inlinable public func assertNotHeld(file: StaticString = #fileID, line: UInt = #line) {}
  }
}

#if DEBUG || Validation
  /// An object validated as a lock of a kind (`Checked.LockdepMap`).
  public typealias LockdepMap = Checked.LockdepMap
#else
  /// An object validated as a lock of a kind; validation compiled out
  /// (`Plain.LockdepMap`).
  public typealias LockdepMap = Plain.LockdepMap
#endif
