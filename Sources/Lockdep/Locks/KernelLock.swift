import CLockdepSupport
import LockGraph
import WaitContext

/// A lock with the kernel's basic operations. Every lock type of this
/// module conforms, validated or not.
public protocol KernelLock: AnyObject, Sendable {
  /// Takes the lock, waiting (spinning or sleeping, by kind) until it is free.
  func lock()
  /// Releases the lock, which the calling thread holds.
  func unlock()
  /// Takes the lock if it is free now; returns whether it did.
  func tryLock() -> Bool
  /// `lock()` called by a wrapper of this module (`withLock`) that names
  /// its own call site, `ip` (a return address), as the acquisition's: a
  /// validated lock records it as where the lock was taken. The default
  /// takes the lock.
  func lock(from ip: UInt64)
}

extension KernelLock {
  /// `lock()`: a lock that is not validated has no use for the site.
  @inlinable
  public func lock(from ip: UInt64) { lock() }

  /// Runs `body` with the lock held; the lock is released however `body`
  /// ends, so a scoped use cannot leak a held lock.
  @inlinable
  public func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result)
    throws(Failure) -> Result
  {
    // An optimized build inlines this into the caller, where `lock()`'s
    // return address is the caller's own code; a debug build does not,
    // and names this function's call site instead.
    #if DEBUG
      lock(from: UInt64(UInt(bitPattern: rlc_return_address())))
    #else
      lock()
    #endif
    defer { unlock() }
    return try body()
  }
}

/// A reader-writer lock: shared (read) acquisitions besides exclusive ones.
public protocol KernelReaderWriterLock: KernelLock {
  /// Takes the lock shared.
  func readLock()
  /// Releases a shared hold.
  func readUnlock()
  /// Takes the lock shared if that is possible now.
  func tryReadLock() -> Bool
  /// `readLock()` from call site `ip`, as `lock(from:)`.
  func readLock(from ip: UInt64)
}

extension KernelReaderWriterLock {
  /// `readLock()`: a lock that is not validated has no use for the site.
  @inlinable
  public func readLock(from ip: UInt64) { readLock() }

  /// Runs `body` with the lock held shared.
  @inlinable
  public func withReadLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result)
    throws(Failure) -> Result
  {
    // As in `withLock`.
    #if DEBUG
      readLock(from: UInt64(UInt(bitPattern: rlc_return_address())))
    #else
      readLock()
    #endif
    defer { readUnlock() }
    return try body()
  }
}
