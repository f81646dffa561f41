// libFuzzer entry point for both trace readers (scripts/fuzz-traces.sh
// builds it; not part of `swift build`). Each input is read as a binary
// trace body (after the magic and version) from memory, and as a file in
// whatever encoding its first bytes say, into the validator, as `report`
// does. A crash, a hang or an allocation beyond libFuzzer's limits is a bug.
import LockGraph
import Trace

#if canImport(Glibc)
  import Glibc
#endif

nonisolated(unsafe) private var scratch: String = {
  "/tmp/fuzz-traces-\(getpid()).rlt"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  var validator = LockValidator()
  _ = try? BinaryTraceReader.read(
    bytes: BinaryTraceFormat.header + bytes, name: "fuzz.rltb", into: &validator)
  let fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  if fd >= 0 {
    bytes.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
    var again = LockValidator()
    _ = try? TraceReader(path: scratch).read(into: &again, warning: { _ in })
  }
  return 0
}
