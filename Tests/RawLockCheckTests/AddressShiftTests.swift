import Basics
import Testing

@testable import Report

/// `AddressShift`: a trace's return addresses moved into another trace's
/// layout of the same module files (`SymbolizerPool`).
@Suite struct AddressShiftTests {
  static let exe = "/bin/app"
  static let lib = "/lib/libx.so"

  /// The trace's layout: app at 0x1000-0x2000, libx right after it at
  /// 0x2000-0x3000; the target's at 0x10000 and 0x50000.
  static let shift = AddressShift(
    from: [
      ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: exe, buildID: "aa"),
      ModuleRecord(start: 0x2000, end: 0x3000, fileOffset: 0, path: lib, buildID: "bb"),
    ],
    to: [
      ModuleRecord(start: 0x50000, end: 0x51000, fileOffset: 0, path: lib, buildID: "bb"),
      ModuleRecord(start: 0x10000, end: 0x11000, fileOffset: 0, path: exe, buildID: "aa"),
    ])

  @Test func eachModuleMovesByItsOwnStart() throws {
    let shift = try #require(Self.shift)
    #expect(shift.moved(0x1234) == 0x10234)
    #expect(shift.moved(0x2345) == 0x50345)
  }

  /// A return address is looked up one byte before it: one at a module's
  /// very end (a call that is the module's last instruction) is that
  /// module's, not the next one's.
  @Test func aReturnAddressAtAModulesEndIsThatModules() throws {
    let shift = try #require(Self.shift)
    #expect(shift.moved(0x2000) == 0x11000)
    #expect(shift.moved(0x3000) == 0x51000)
    #expect(shift.moved(0x1001) == 0x10001)
  }

  /// An address in no module of the trace (an `ip=` of JIT code) goes to
  /// 0, which no module holds: left as it was, it fell in the target's
  /// layout and was named as code it is not.
  @Test func anAddressOutsideEveryModuleIsNotTakenForTheTargets() throws {
    let shift = try #require(Self.shift)
    #expect(shift.moved(0x10234) == 0)
    #expect(shift.moved(0x1000) == 0)
    #expect(shift.moved(0x3001) == 0)
    #expect(shift.moved(0) == 0)
  }

  @Test func aModuleWithoutCounterpartSharesNothing() {
    let other = AddressShift(
      from: [ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0, path: Self.exe)],
      to: [ModuleRecord(start: 0x1000, end: 0x2000, fileOffset: 0x1000, path: Self.exe)])
    #expect(other == nil)
  }
}
