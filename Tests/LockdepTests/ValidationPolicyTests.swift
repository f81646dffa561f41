import Testing

@testable import Lockdep

/// The policy's number in the validator's atomic word is read in a signal
/// handler (an RCU read-side section's slow path), so it is found by a
/// switch, not through `allCases` (an array a debug build allocates, and a
/// handler may have interrupted `malloc`): the two must agree.
struct ValidationPolicyTests {
  @Test func aPolicysNumberIsItsPlaceInAllCases() {
    for (place, policy) in ValidationPolicy.allCases.enumerated() {
      #expect(Int(policy.number) == place)
      #expect(ValidationPolicy(number: policy.number) == policy)
    }
    #expect(ValidationPolicy(number: UInt8(ValidationPolicy.allCases.count)) == nil)
  }
}
