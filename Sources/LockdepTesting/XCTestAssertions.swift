import LockGraph
import Lockdep
import XCTest

/// Fails the XCTest test unless `body` causes no lock-validation finding;
/// each finding's lockdep-style report is in the failure message.
public func XCTAssertNoLockViolations<R>(
  _ body: () throws -> R, file: StaticString = #filePath, line: UInt = #line
) rethrows -> R {
  let scope = LockValidationScope()
  let result = try scope.run(body)
  for occurrence in scope.findings {
    XCTFail(
      "lock validation: \(occurrence.finding.kind.rawValue)\n\(occurrence.text)", file: file,
      line: line)
  }
  return result
}

/// Fails the XCTest test unless `body` causes a finding of `kind`; returns
/// the findings it caused.
@discardableResult
public func XCTAssertLockViolation<R>(
  _ kind: FindingKind, _ body: () throws -> R, file: StaticString = #filePath,
  line: UInt = #line
) rethrows -> [Finding] {
  let scope = LockValidationScope()
  _ = try scope.run(body)
  let found = scope.findings.map(\.finding)
  if !found.contains(where: { $0.kind == kind }) {
    let seen = found.map(\.kind.rawValue).joined(separator: ", ")
    XCTFail(
      "expected a \(kind.rawValue) finding, found \(seen.isEmpty ? "none" : seen)", file: file,
      line: line)
  }
  return found
}
