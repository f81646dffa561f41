import Basics
import Foundation
import XCTest

@testable import Symbolizer

/// C++ from g++ -O2 and clang++ (C++20 templates, an inheriting constructor,
/// a lambda gcc writes inside its function's DIE) against llvm-symbolizer:
/// the same inline chains (linkage names and lines), and no frame whose
/// readable name is left mangled.
final class CxxNamesTests: XCTestCase {
  /// Agreement of our frames with llvm-symbolizer's for `addresses`.
  struct Comparison {
    var answers = 0
    /// Answers whose frames (count, linkage names, basename:line) agree.
    var agreeing = 0
    /// Answers whose readable names also equal llvm-symbolizer's.
    var agreeingNames = 0
    /// Answers with a frame whose readable name is still mangled.
    var mangled = 0
    var mismatches: [String] = []
    var nameMismatches: [String] = []
  }

  static func compare(binary: String, addresses: [UInt64]) throws -> Comparison {
    let linkage = try XCTUnwrap(FixtureSupport.oracle(binary: binary, addresses: addresses))
    let names = try XCTUnwrap(demangledOracle(binary: binary, addresses: addresses))
    XCTAssertEqual(linkage.count, addresses.count)
    let symbolizer = Symbolizer(executable: binary)
    var result = Comparison()
    for (index, address) in addresses.enumerated() {
      let frames = symbolizer.symbolize(address).frames
      result.answers += 1
      let ours = frames.map {
        FixtureSupport.OracleFrame(
          name: $0.linkageName ?? "??", location: "\(baseName($0.file ?? "??")):\($0.line)")
      }
      let readable = frames.map { $0.function ?? "??" }
      if readable.contains(where: { $0.hasPrefix("_Z") }) { result.mangled += 1 }
      if ours == linkage[index] {
        result.agreeing += 1
      } else if result.mismatches.count < 10 {
        result.mismatches.append(
          "0x\(String(address, radix: 16)): ours \(ours) oracle \(linkage[index])")
      }
      if readable == names[index] {
        result.agreeingNames += 1
      } else if result.nameMismatches.count < 200 {
        result.nameMismatches.append("ours \(readable) oracle \(names[index])")
      }
    }
    return result
  }

  /// llvm-symbolizer's demangled function names, innermost first.
  static func demangledOracle(binary: String, addresses: [UInt64]) -> [[String]]? {
    guard let tool = FixtureSupport.llvmSymbolizer else { return nil }
    let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
    let result = FixtureSupport.run(tool, ["--obj=" + binary, "--inlining"], input: input)
    guard result.status == 0 else { return nil }
    return result.output.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
      block.split(separator: "\n").enumerated().filter { $0.offset % 2 == 0 }.map {
        String($0.element)
      }
    }
  }

  private func check(_ binary: String?) throws {
    guard FixtureSupport.llvmSymbolizer != nil else { throw XCTSkip("no llvm-symbolizer") }
    let binary = try XCTUnwrap(binary, "the C++20 fixture did not build")
    var addresses: [UInt64] = []
    for function in FixtureSupport.functions(of: binary) {
      addresses += stride(from: function.start, to: function.start + function.size, by: 1)
    }
    let result = try Self.compare(binary: binary, addresses: addresses)
    XCTAssertEqual(result.mangled, 0, "frames left mangled")
    XCTAssertEqual(
      result.agreeing, result.answers, result.mismatches.joined(separator: "\n"))
    print(
      "\(baseName(binary)): \(result.answers) addresses, \(result.agreeing) agree, "
        + "\(result.agreeingNames) with llvm-symbolizer's readable names, \(result.mangled) mangled"
    )
    for mismatch in Set(result.nameMismatches).sorted().prefix(40) { print("  \(mismatch)") }
  }

  func testGxxFixtureMatchesLLVMSymbolizer() throws {
    try check(FixtureSupport.built.gxxProgram)
  }

  func testClangFixtureMatchesLLVMSymbolizer() throws {
    try check(FixtureSupport.built.clangxxProgram)
  }

  /// Constructor templates with a non-type parameter of a dependent type
  /// (clang mangles them with `Tn`, which GCC 12's `__cxa_demangle` cannot
  /// read, so their names are built from DWARF) print no return type, as
  /// llvm-symbolizer prints them: a class's, and a class template's, whose
  /// scope carries template arguments (`Holder<long>::`).
  func testConstructorTemplatesHaveNoReturnType() throws {
    let binary = try XCTUnwrap(FixtureSupport.built.clangxxProgram, "the fixture did not build")
    let symbolizer = Symbolizer(executable: binary)
    var names: [String] = []
    for function in FixtureSupport.functions(of: binary)
    where function.name.contains("3Box") || function.name.contains("6Holder") {
      XCTAssertTrue(function.name.contains("Tn"), function.name)
      names.append(symbolizer.symbolize(function.start).frames.last?.function ?? "??")
    }
    XCTAssertEqual(
      names.sorted(),
      [
        "fixture20::Box::Box<int&, true>(int&)",
        "fixture20::Holder<long>::Holder<int&, true>(int&)",
      ])
    XCTAssertEqual(CxxNames.innermostScope("a::b<c::d, e<f::g>>::"), "b")
    XCTAssertEqual(CxxNames.innermostScope("(anonymous namespace)::Box::"), "Box")
    XCTAssertEqual(CxxNames.innermostScope("f(int)::Local::"), "Local")
    XCTAssertNil(CxxNames.innermostScope(""))
  }

  /// Names built from DWARF spell array and function types as a demangler
  /// does, checked against llvm-symbolizer (which reads these manglings):
  /// an array's bounds, a pointer or reference to an array or function in
  /// parentheses (`char const (&) [6]`, `int (*) [3]`, `void (*)(int)`),
  /// a member function pointer without its artificial `this`
  /// (`void (fixture20::Tally::*)(int)`), and parameters without their
  /// top-level `const`, through a typedef too, which is no part of the
  /// mangled name. Before, `char [] const&`, `short const`,
  /// `(fixture20::Tally*, int)` and `int const`.
  func testArrayAndFunctionTypesInBuiltNames() throws {
    guard FixtureSupport.llvmSymbolizer != nil else { throw XCTSkip("no llvm-symbolizer") }
    let binary = try XCTUnwrap(FixtureSupport.built.clangxxProgram, "the fixture did not build")
    let symbolizer = Symbolizer(executable: binary)
    let functions = FixtureSupport.functions(of: binary).filter {
      $0.name.contains("4Text") || $0.name.contains("4rows")
    }
    XCTAssertEqual(functions.count, 2)
    let oracle = try XCTUnwrap(
      Self.demangledOracle(binary: binary, addresses: functions.map(\.start)))
    for (function, expected) in zip(functions, oracle) {
      XCTAssertTrue(function.name.contains("Tn"), function.name)
      let ours = symbolizer.symbolize(function.start).frames.map { $0.function ?? "??" }
      XCTAssertEqual(ours, expected, function.name)
    }
  }

  /// clang's `-fdebug-types-section` puts each class in a type unit and
  /// leaves a nameless declaration naming it by `DW_AT_signature` where
  /// it is used: a name built from DWARF (a `Tn` template, which GCC 12's
  /// `__cxa_demangle` cannot read) names such a class from its type unit,
  /// with its scopes there, as without the option and as llvm-symbolizer
  /// names it. It was `{lambda}`: `bool ns::conv<int, (ns::{lambda})0>
  /// (std::__cxx11::{lambda} const&, int&, ns::{lambda}&)`.
  func testClassesInTypeUnitsAreNamedInBuiltNames() throws {
    guard let clangxx = FixtureSupport.toolchainTool("clang++") else {
      throw XCTSkip("clang++ not found next to swift")
    }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("type-units-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let source = directory.appendingPathComponent("t.cpp").path
    try """
    #include <string>
    #include <vector>
    #include <type_traits>
    namespace ns {
    enum class enabler { dummy };
    struct Opt { std::vector<double> v; };
    template <class T, std::enable_if_t<std::is_integral<T>::value, enabler> = enabler::dummy>
    __attribute__((noinline)) bool conv(const std::string &s, T &out, Opt &o) {
      out = (T)s.size();
      o.v.push_back(out);
      return true;
    }
    }
    int main(int c, char **v) {
      int x = 0;
      ns::Opt o;
      return ns::conv(std::string(v[0]), x, o) ? x + (int)o.v.size() : 0;
    }
    """.write(toFile: source, atomically: true, encoding: .utf8)
    var names: [String] = []
    for (name, extra) in [("plain", []), ("types", ["-fdebug-types-section"])] {
      let binary = directory.appendingPathComponent(name).path
      let built = FixtureSupport.run(
        clangxx, ["-std=c++17", "-O2", "-g"] + extra + [source, "-o", binary])
      XCTAssertEqual(built.status, 0, built.output)
      let conv = try XCTUnwrap(
        FixtureSupport.functions(of: binary).first { $0.name.contains("4conv") })
      XCTAssertTrue(conv.name.contains("Tn"), conv.name)
      names.append(
        Symbolizer(executable: binary).symbolize(conv.start).frames.last?.function ?? "??")
    }
    XCTAssertEqual(
      names.first,
      "bool ns::conv<int, (ns::enabler)0>(std::__cxx11::basic_string<char, "
        + "std::char_traits<char>, std::allocator<char> > const&, int&, ns::Opt&)")
    XCTAssertEqual(names.last, names.first)
  }

  /// libiberty names an inheriting constructor after its base class; we
  /// name it after its class, as llvm-symbolizer does. Clone suffixes print
  /// as c++filt prints them.
  func testInheritingConstructorAndCloneSuffix() {
    XCTAssertEqual(
      Demangler.demangle("_ZN3fmt3v1212format_errorCI2St13runtime_errorEPKc"),
      "fmt::v12::format_error::format_error(char const*)")
    XCTAssertEqual(Demangler.demangle("_ZN3errCI1St13runtime_errorEPKc"), "err::err(char const*)")
    XCTAssertEqual(Demangler.demangle("_ZN3errD2Ev"), "err::~err()")
    XCTAssertEqual(
      Demangler.cloneSuffix(of: "_Z1fv.constprop.0.isra.0"),
      " [clone .constprop.0] [clone .isra.0]")
    XCTAssertEqual(Demangler.cloneSuffix(of: "_Z1fv"), "")
  }

  /// A manual check on a real program: `RLC_CXX_COMPARE=binary:addresses`
  /// (one hex address per line) prints the figures.
  func testManualComparison() throws {
    guard let spec = ProcessInfo.processInfo.environment["RLC_CXX_COMPARE"] else {
      throw XCTSkip("set RLC_CXX_COMPARE=binary:addressfile")
    }
    for pair in spec.split(separator: ",") {
      let parts = pair.split(separator: ":").map(String.init)
      let text = try String(contentsOfFile: parts[1], encoding: .utf8)
      let addresses = text.split(separator: "\n").compactMap { UInt64($0.dropFirst(2), radix: 16) }
      let result = try Self.compare(binary: parts[0], addresses: addresses)
      print(
        "\(parts[0]): \(result.answers) answers, \(result.agreeing) agree (frames, linkage, lines), "
          + "\(result.agreeingNames) readable names equal, \(result.mangled) with a mangled frame")
      for mismatch in result.mismatches { print("  \(mismatch)") }
      for mismatch in Set(result.nameMismatches).sorted().prefix(30) { print("  \(mismatch)") }
    }
  }
}
