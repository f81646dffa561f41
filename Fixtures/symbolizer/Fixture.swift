// Symbolizer fixture: Swift with @inline(__always) frames. Built by the tests
// with `swiftc -O -g -parse-as-library -module-name swfix`; its DWARF puts
// every function inside DW_TAG_module.
import Synchronization

@inline(never) func blackHole(_ x: Int) { if x == 0x7fff_ffff { print(x) } }

struct Mixer {
  var seed: Int

  @inline(__always) func scramble(_ value: Int) -> Int {
    let v = value &* 31 &+ seed
    blackHole(v)
    return v ^ (v >> 3)
  }

  @inline(__always) func twice(_ value: Int) -> Int {
    let a = scramble(value)
    blackHole(a)
    return scramble(a &+ 1)
  }

  @inline(never) func run(count: Int) -> Int {
    var total = 0
    for i in 0..<count {
      total &+= twice(i)
    }
    return total
  }
}

final class Driver {
  let mixer: Mixer
  init(seed: Int) { mixer = Mixer(seed: seed) }

  @inline(never) func go(times: Int) -> Int {
    return mixer.run(count: times) &+ times
  }
}

// A closure in a library-style module (`-parse-as-library`): swiftc gives
// the closure its own subprogram DIE nested inside the DIE of the method
// that contains it, with the inlined calls (`map`, `twice`, `scramble`) below.
final class Pool: Sendable {
  let mixer = Mutex(Mixer(seed: 3))

  @inline(never) func mixAll(_ values: some Sequence<Int>) -> [Int] {
    let array = Array(values)
    return mixer.withLock { mixer in array.map { mixer.twice($0) } }
  }
}

@main struct FixtureMain {
  static func main() {
    let driver = Driver(seed: CommandLine.arguments.count)
    print(driver.go(times: CommandLine.arguments.count &+ 5))
    print(Pool().mixAll(0..<CommandLine.arguments.count &+ 3))
  }
}
