import LockGraph
import Testing
import WaitContext

@Suite struct SleepTests {
  @Test func mightSleepUnderARawSpinlock() throws {
    var s = Scenario()
    s.lock("raw", .rawSpinlock)
    try s.event(.mightSleep)
    #expect(s.kinds.isEmpty)
    s.acquire("raw")
    try s.event(.mightSleep)
    #expect(s.kinds == [.sleepInAtomic])
    guard case .sleepInAtomic(let reasons) = s.findings[0].detail else { return }
    #expect(reasons == ["holding raw_spinlock &raw"])
  }

  @Test func mutexWithPreemptionOrInterruptsOff() throws {
    var s = Scenario()
    s.lock("m", .mutex)
    try s.event(.preemptDisable)
    s.acquire("m")
    #expect(s.kinds == [.sleepInAtomic])
    var t = Scenario()
    t.lock("m", .mutex)
    try t.event(.irqDisable)
    t.acquire("m", try: true)
    #expect(t.kinds.isEmpty, "mutex_trylock() does not sleep")
  }

  @Test func spinlockSleepsOnlyOnPreemptRT() {
    for rt in [false, true] {
      var s = Scenario(CheckConfiguration(preemptRT: rt))
      s.lock("raw", .rawSpinlock)
      s.lock("spin", .spinlock)
      s.lock("spin2", .spinlock)
      s.acquire("spin")
      s.acquire("spin2")
      #expect(!s.kinds.contains(.sleepInAtomic), "spinlock_t under spinlock_t is fine")
      s.release("spin2")
      s.release("spin")
      s.acquire("raw")
      s.acquire("spin")
      #expect(s.kinds.contains(.sleepInAtomic) == rt)
    }
  }
}
