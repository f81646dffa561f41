import LockGraph
import Testing
import WaitContext

@testable import Trace

/// A stack declared twice under two ids (a writer that does not intern its
/// stacks, as rawlockcheck's recorder does) is one stack in either
/// encoding: the same `StackID`, kept once, so that findings from it are
/// one finding ("from the same stack", spec/reports.md).
@Suite struct StackInterningTests {
  @Test func textStacksWithTheSameAddressesAreOne() throws {
    let (recorder, symbols) = try read(
      """
      rawlockcheck-trace 1
      class A mutex
      stack s1 0x10 0x20
      stack s2 0x10 0x20
      stack s3 0x10
      stack s4 0x20 0x10
      1 acquire A at=s1
      1 release A
      1 acquire A at=s2
      1 release A
      1 acquire A at=s3
      1 release A
      1 acquire A at=s4
      """)
    #expect(symbols.stacks == [[0x10, 0x20], [0x10], [0x20, 0x10]])
    let stacks = recorder.events.filter { $0.verb == .acquire }.map(\.origin.stack.raw)
    #expect(stacks == [0, 0, 1, 2])
  }

  @Test func binaryStackRecordsWithTheSameAddressesAreOne() throws {
    var writer = BinaryTraceWriter()
    writer.header()
    writer.declareClass(
      id: ClassID(0), key: "A", name: nil, kind: .mutex, waits: try ClassWaitTypes(kind: .mutex))
    writer.declareThread(id: ThreadID(0), token: "1", name: nil)
    writer.stack(id: StackID(0), addresses: [0x10, 0x20])
    writer.stack(id: StackID(1), addresses: [0x30])
    writer.stack(id: StackID(2), addresses: [0x10, 0x20])
    for id: Int32 in [2, 1, 0] {
      writer.event(
        LockEvent(
          .acquire, thread: ThreadID(0), lockClass: ClassID(0),
          origin: Origin(stack: StackID(id))))
      writer.event(LockEvent(.release, thread: ThreadID(0), lockClass: ClassID(0)))
    }
    var recorder = Recorder()
    let symbols = try BinaryTraceReader.read(bytes: writer.take(), name: "t.rltb", into: &recorder)
    #expect(symbols.stacks == [[0x10, 0x20], [0x30]])
    let stacks = recorder.events.filter { $0.verb == .acquire }.map(\.origin.stack.raw)
    #expect(stacks == [0, 1, 0])
  }

  /// Through the index's growth: every stack found again, none merged
  /// with another (lists that differ in one address, in order or length).
  @Test func manyStacksInternThroughGrowth() {
    var symbols = TraceSymbols()
    var generator = SystemRandomNumberGenerator()
    var lists: [[UInt64]] = []
    for i in 0..<20_000 {
      let depth = Int.random(in: 1...6, using: &generator)
      var list = (0..<depth).map { _ in UInt64.random(in: 0...255, using: &generator) }
      list[0] = UInt64(i)  // distinct
      lists.append(list)
    }
    lists += [[30_001, 30_002], [30_002, 30_001], [30_001, 30_002, 0], [30_001]]
    for (i, list) in lists.enumerated() { #expect(symbols.internStack(list) == Int32(i)) }
    for (i, list) in lists.enumerated().reversed() {
      #expect(symbols.internStack(list) == Int32(i))
    }
    #expect(symbols.stacks == lists)
  }
}
