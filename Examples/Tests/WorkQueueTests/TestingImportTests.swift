import LockdepTesting
import Testing
import WorkQueue

/// A test file that imports `LockdepTesting` alone (no `Lockdep`) names
/// what a test uses beside the assertions: the test's scope and whether
/// validation is compiled in. This file does not compile unless
/// `LockdepTesting` re-exports them (found by a user's package).
@Suite(.lockValidation) struct TestingImportTests {
  @Test func theScopeAndTheBuildAreNamedWithLockdepTestingAlone() throws {
    // The trait binds the test's scope in every build.
    let scope = try #require(LockValidationScope.current)
    scope.run { expectNoLockViolations { WorkQueue().flush() } }
    if lockValidationIsCompiledIn { #expect(LockValidationScope.current === scope) }
  }
}
