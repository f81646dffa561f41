import Dispatch
import Testing

@testable import Symbolizer

/// `SymbolName`: demangled once, on first use, and then read without a lock
/// from any thread.
@Suite struct SymbolNameTests {
  // Expected forms checked by hand against `swift demangle --simplified` and `c++filt`.
  static let swiftName = "$s10Symbolizer11SymbolTableV6lookupyAC5EntryVSgs6UInt64VF"
  static let swiftReadable = "SymbolTable.lookup(_:)"

  @Test func demanglesSwiftAndCxxAndLeavesCAlone() {
    #expect(SymbolName(linkage: Self.swiftName).readable == Self.swiftReadable)
    #expect(SymbolName(linkage: "_ZN3foo3barEi").readable == "foo::bar(int)")
    #expect(SymbolName(linkage: "memcpy").readable == "memcpy")
    #expect(SymbolName(linkage: Self.swiftName).description == Self.swiftReadable)
  }

  /// A merged function (LLVM's MergeFunctions folded identical bodies into
  /// one, mangled with the suffix `Tm`) is marked `merged`, as `swift
  /// demangle` and llvm-symbolizer print it: its frame may stand for
  /// another function (the project's `withIRQsDisabled` read
  /// `withSoftIRQ` in the demo's stack). The function itself is not.
  @Test func aMergedFunctionIsMarked() {
    let merged = "$s7Lockdep7CheckedO11withSoftIRQyxxyq_YKXEq_YKs5ErrorR_r0_lFZTm"
    #expect(Demangler.demangle(merged) == "merged static Checked.withSoftIRQ<A, B>(_:)")
    #expect(
      Demangler.demangle(String(merged.dropLast(2))) == "static Checked.withSoftIRQ<A, B>(_:)")
  }

  /// A closure in top-level code is in its module: `swift demangle
  /// --simplified` leaves the context empty (`closure #2 in `), the full
  /// form names it (`closure #2 () -> () in server`).
  @Test func aTopLevelClosureIsInItsModule() {
    #expect(Demangler.demangle("$s6serveryyXEfU0_") == "closure #2 in server")
    #expect(Demangler.demangle("$s6serveryyXEfU0_yyXEfU_") == "closure #1 in closure #2 in server")
    #expect(Demangler.swiftModule(of: "$ss5print_9separator10terminatoryypd_S2StF") == "Swift")
    #expect(Demangler.swiftModule(of: "$s10Symbolizer11SymbolTableV") == "Symbolizer")
    #expect(Demangler.swiftModule(of: "_ZN3foo3barEi") == nil)
    #expect(SymbolName(linkage: Self.swiftName).readable == Self.swiftReadable)
  }

  /// The demanglers get NUL-terminated names: when the heap block right
  /// after a name's bytes holds other characters (here: freed arrays of
  /// 'i's, which malloc hands out again, and which would read as more `int`
  /// parameters or a longer clone suffix), the result must not change.
  @Test func demanglingDoesNotReadPastTheName() {
    // Checked by hand with c++filt.
    let cases = [
      (
        "_ZNSt12_Vector_baseIiSaIiEED2Ev",
        "std::_Vector_base<int, std::allocator<int> >::~_Vector_base()"
      ),
      ("_ZN7fixture5buildEi.cold", "fixture::build(int) [clone .cold]"),
    ]
    for (name, readable) in cases {
      for size in stride(from: 16, through: 96, by: 8) {
        // Free a block of about the size the demangler's copy will take.
        var poison = [UInt8](repeating: UInt8(ascii: "i"), count: size)
        poison.withUnsafeMutableBufferPointer { $0[0] = UInt8(ascii: "i") }
        poison = []
        #expect(Demangler.demangle(name) == readable, "after freeing \(size) bytes")
      }
    }
  }

  @Test func aGivenReadableFormIsKept() {
    // Not what demangling would give: proves the given form is used.
    let name = SymbolName(linkage: Self.swiftName, readable: "custom")
    #expect(name.readable == "custom")
    #expect(name.readable == "custom")
  }

  @Test func manyThreadsReadingFreshNamesAllGetTheDemangledForm() {
    // Each name is read first by several threads at once (whichever way
    // the iterations are shared out, the threads walk the names in step):
    // they may all demangle, one form is published, every reader gets it.
    let names = (0..<200).map { _ in SymbolName(linkage: Self.swiftName) }
    let results = Results(count: names.count * 8)
    DispatchQueue.concurrentPerform(iterations: names.count * 8) { index in
      results.store(names[index % names.count].readable, at: index)
    }
    #expect(results.all.allSatisfy { $0 == Self.swiftReadable })
  }

  @Test func theFirstPublishedFormWins() {
    // What a thread that lost the race to publish sees: the winner's form.
    let name = SymbolName(linkage: Self.swiftName)
    #expect(name.publish("first") == "first")
    #expect(name.publish("second") == "first")
    #expect(name.readable == "first")
    let given = SymbolName(linkage: "f", readable: "given")
    #expect(given.publish("late") == "given")
  }

  @Test func equalityIsByTextNotIdentity() {
    #expect(SymbolName(linkage: "memcpy") == SymbolName(linkage: "memcpy"))
    #expect(SymbolName(linkage: "memcpy") != SymbolName(linkage: "memmove"))
    #expect(SymbolName(linkage: "f", readable: "a") != SymbolName(linkage: "f", readable: "b"))
  }

  /// Slots written from many threads, each slot by one.
  final class Results: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<String>
    init(count: Int) {
      slots = .allocate(capacity: count)
      _ = slots.initialize(from: repeatElement("", count: count))
    }
    deinit {
      slots.deinitialize()
      slots.deallocate()
    }
    func store(_ value: String, at index: Int) { slots[index] = value }
    var all: [String] { Array(slots) }
  }
}
