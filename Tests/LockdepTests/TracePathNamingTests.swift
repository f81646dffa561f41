import Basics
import Testing

@testable import Lockdep

/// `RAWLOCKCHECK_TRACE`'s spelling: `%p` and `%%` as `LLVM_PROFILE_FILE`
/// spells them, and the per-process name beside a busy file.
@Suite struct TracePathNamingTests {
  @Test func percentSequencesExpand() {
    #expect(TracePath.expand("t.rltb", pid: 42) == "t.rltb")
    #expect(TracePath.expand("t-%p.rltb", pid: 42) == "t-42.rltb")
    #expect(TracePath.expand("%p/%p", pid: 7) == "7/7")
    #expect(TracePath.expand("100%%-%p", pid: 7) == "100%-7")
    // Anything else after `%` is kept as written, as is a final `%`.
    #expect(TracePath.expand("a%q%", pid: 7) == "a%q%")
  }

  @Test func thePerProcessNameKeepsTheExtension() {
    #expect(TracePath.perProcess("t.rltb", pid: 42) == "t.42.rltb")
    #expect(TracePath.perProcess("/tmp/run/trace", pid: 42) == "/tmp/run/trace.42")
    #expect(TracePath.perProcess("/tmp/a.d/trace", pid: 42) == "/tmp/a.d/trace.42")
    #expect(TracePath.perProcess("/tmp/.trace", pid: 42) == "/tmp/.trace.42")
    #expect(TracePath.perProcess("x.tar.rlt", pid: 1) == "x.tar.1.rlt")
  }

  /// This process's own descriptors are written where they are (a
  /// `/dev/stdout` redirected `>> log` is not reopened and truncated).
  @Test func ownDescriptorsAreKnownByName() {
    #expect(ownDescriptor(named: "/dev/stdout") == 1)
    #expect(ownDescriptor(named: "/dev/stderr") == 2)
    #expect(ownDescriptor(named: "/dev/fd/7") == 7)
    #expect(ownDescriptor(named: "/proc/self/fd/12") == 12)
    for other in ["/dev/null", "/dev/fd/", "/dev/fd/1x", "/proc/1/fd/1", "t.rltb", "/dev/fd/٣"] {
      #expect(ownDescriptor(named: other) == nil, "\(other)")
    }
  }
}
