import LockGraph
import Lockdep
import XCTest

/// Fails the XCTest test unless `body` causes no lock-validation finding;
/// each finding's lockdep-style report is in the failure message.
public func XCTAssertNoLockViolations<R>(
  _ body: () throws -> R, file: StaticString = #filePath, line: UInt = #line
) rethrows -> R {
  let checked = try LockValidationScope.check(expecting: nil, body)
  for complaint in checked.complaints { XCTFail(complaint, file: file, line: line) }
  return checked.result
}

/// Fails the XCTest test unless `body` causes a finding of `kind`; returns
/// the findings it caused. `body` runs isolated (see `expectLockViolation`):
/// the rule-breaking it proves is found is not left to fail other tests.
@discardableResult
public func XCTAssertLockViolation<R>(
  _ kind: FindingKind, _ body: () throws -> R, file: StaticString = #filePath,
  line: UInt = #line
) rethrows -> [Finding] {
  let checked = try LockValidationScope.check(expecting: kind, body)
  for complaint in checked.complaints { XCTFail(complaint, file: file, line: line) }
  return checked.findings
}
