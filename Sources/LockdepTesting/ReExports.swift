// The finding types the assertions take and return, visible with
// `import LockdepTesting` alone (as `import Lockdep` makes them visible).

@_exported import struct LockGraph.Finding
@_exported import enum LockGraph.FindingKind
