// The types and values a test uses beside the assertions, visible with
// `import LockdepTesting` alone (as `import Lockdep` makes them visible):
// the finding types the assertions take and return, the scope a test's
// threads join (`scope.run {}`), whether validation is compiled in, and
// the validator's controls (`LockValidation.isChecking`, `.policy`, ...).

@_exported import struct LockGraph.Finding
@_exported import enum LockGraph.FindingKind
@_exported import enum Lockdep.LockValidation
@_exported import class Lockdep.LockValidationScope
@_exported import let Lockdep.lockValidationIsCompiledIn
