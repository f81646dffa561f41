import Foundation
import Testing

@testable import LockdepTesting

/// Where an XCTest failure goes when its report names no line of a file
/// that is there (an optimized build inlines the test method into the
/// generated runner, at line 0): the test method's declaration, found in
/// the package's sources from XCTest's test name.
@Suite struct TestDeclarationSiteTests {
  @Test(arguments: [
    ("BankTests.testFlush", "BankTests", "testFlush"),
    ("UserBankTests.BankTests.testFlush", "BankTests", "testFlush"),
    ("-[BankTests testFlush]", "BankTests", "testFlush"),
  ])
  func xctestNamesSplitIntoClassAndMethod(name: String, className: String, method: String) {
    let split = TestDeclarationSite.split(name)
    #expect(
      split?.className == className && split?.method == method, "\(String(describing: split))")
  }

  /// The method is the one after its own class's declaration, not one of
  /// a class whose name starts the same, nor one before the class.
  @Test func theMethodIsTheOneOfItsOwnClass() {
    let text = """
      final class BankTestsSlow: XCTestCase {
        func testFlush() {}
      }
      func testFlush() {}
      final class BankTests: XCTestCase {
        func testOther() {}
        func testFlush() {}
      }
      """
    #expect(TestDeclarationSite.declarationLine(of: "testFlush", in: "BankTests", text: text) == 7)
    #expect(TestDeclarationSite.declarationLine(of: "testFlush", in: "Bank", text: text) == nil)
  }

  @Test func aTestIsFoundAtItsFuncLineInThePackagesTests() throws {
    // This package's own XCTest file, found from the package root that a
    // generated runner's path names (and, without one, the current
    // directory, where `swift test` runs).
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("XCTestAssertionTests.swift").path
    let text = try String(contentsOfFile: file, encoding: .utf8)
    let expected =
      try #require(
        text.split(separator: "\n", omittingEmptySubsequences: false)
          .firstIndex { $0.contains("func testAFindingFailsTheTestAtItsLine(") }) + 1
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent().path
    let generated =
      root + "/.build/x86_64-unknown-linux-gnu/release/"
      + "pkgPackageDiscoveredTests.derived/LockdepTests.swift"
    let found = TestDeclarationSite.find(
      testName: "LockValidatedTestCaseTests.testAFindingFailsTheTestAtItsLine",
      generated: generated)
    #expect(found?.path.hasSuffix("/Tests/LockdepTests/XCTestAssertionTests.swift") == true)
    #expect(found?.line == expected)
    #expect(
      TestDeclarationSite.find(testName: "NoSuchClass.testNothing", generated: generated) == nil)
  }
}
