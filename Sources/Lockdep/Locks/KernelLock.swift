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
}

extension KernelLock {
  /// Runs `body` with the lock held; the lock is released however `body`
  /// ends, so a scoped use cannot leak a held lock.
  @inlinable
  public func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result)
    throws(Failure) -> Result
  {
    lock()
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
}

extension KernelReaderWriterLock {
  /// Runs `body` with the lock held shared.
  @inlinable
  public func withReadLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result)
    throws(Failure) -> Result
  {
    readLock()
    defer { readUnlock() }
    return try body()
  }
}
