// What a program or test names when it reads findings (`LockValidation.findings`,
// `expectLockViolation`, `XCTAssertLockViolation`), and when it makes a
// `LockdepMap` (its kind, wait types and lock type): visible with
// `import Lockdep` (or `import LockdepTesting`) alone, without naming the
// engine's module, `LockGraph`, which a user's package does not depend on.

@_exported import struct LockGraph.Finding
@_exported import enum LockGraph.FindingKind
@_exported import enum WaitContext.LockKind
@_exported import enum WaitContext.LockType
@_exported import enum WaitContext.WaitType
