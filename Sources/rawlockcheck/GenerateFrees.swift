import Basics

extension GenerateCommand {
  /// The `frees` shape: `--threads` threads that each hold a lock of their
  /// own all along (`c0`, a mutex: a thread blocked in a section it
  /// guards), take the `reuse` shape's code paths under it (below the
  /// irq-safe ranks) on lock instances of their own, and free heap memory
  /// about every fourth event, none of it holding a lock: every free is
  /// checked against the locks of every thread, most of which hold some.
  /// The threads' lines are interleaved one at a time; at the end each
  /// releases its lock.
  func writeFrees(classes: Int, into out: inout BufferedOutput, rng: inout SplitMix)
    throws(OutputError)
  {
    try writeRankedClasses(classes, into: &out)
    let irqSafeStart = classes - classes / 8
    let paths = Self.codePaths(classes: classes, rng: &rng)
      .map { $0.filter { $0 > 0 && $0 < irqSafeStart } }.filter { !$0.isEmpty }
    // A recorder's options (`--stacks`) bring their own `inst=`.
    let own = stacks == 0
    func instance(_ t: Int, _ c: Int) -> String {
      own ? " inst=" + NumberText.hex(0x10_0000_0000 + UInt64(t) << 20 + 64 * UInt64(c)) : ""
    }
    // Per thread: its lines still to write.
    var pending = [(lines: [String], next: Int)](repeating: ([], 0), count: threads)
    var written = 0
    for t in 0..<threads where 2 * (written + 1) <= events {
      try out.write("f\(t) acquire c0\(instance(t, 0))\n")
      written += 1
    }
    let holding = written
    guard holding > 0 else { return try Self.fill(events, thread: "idle", into: &out) }
    // The events written, and those owed: the rest of each path, and each
    // thread's release of `c0`.
    var committed = 2 * holding
    var starting = true
    while starting || pending.contains(where: { $0.next < $0.lines.count }) {
      let t = Int(rng.next() % UInt64(holding))
      if starting && rng.next() % 4 == 0 {
        if committed + 1 > events {
          starting = false
          continue
        }
        committed += 1
        let at = 0x7E00_0000_0000 + (rng.next() % (1 << 24)) * 64
        let length = rng.next() % 16 == 0 ? 4096 : 64
        try out.write("f\(t) free \(NumberText.hex(at)) \(length)\n")
        written += 1
        continue
      }
      if pending[t].next == pending[t].lines.count {
        if !starting { continue }
        let path = paths[Int(rng.next() % UInt64(paths.count))]
        if committed + path.count * 2 > events {
          starting = false
          continue
        }
        committed += path.count * 2
        pending[t] = (
          path.map { "acquire c\($0)\(instance(t, $0))" }
            + path.reversed().map { "release c\($0)\(instance(t, $0))" }, 0
        )
      }
      try out.write("f\(t) \(pending[t].lines[pending[t].next])\n")
      pending[t].next += 1
      written += 1
    }
    for t in 0..<holding {
      try out.write("f\(t) release c0\(instance(t, 0))\n")
      written += 1
    }
    try Self.fill(events - written, thread: "idle", into: &out)
  }
}
