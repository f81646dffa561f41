import Basics

extension GenerateCommand {
  /// The `deep` shape: the adversarial shape for releases. Each round, one
  /// thread takes `deepNesting` mutexes (lockdep's `MAX_LOCK_DEPTH`, 48)
  /// in rank order, drawn at random from the classes, then releases them in
  /// random order, not newest first: each release of a lock below others
  /// re-validates every lock above it (lockdep's `reacquire_held_locks()`),
  /// each a chain not seen before. Clean: every nesting follows the ranks.
  func writeDeep(classes: Int, into out: inout BufferedOutput, rng: inout SplitMix)
    throws(OutputError)
  {
    for c in 0..<classes { try out.write("class c\(c) mutex name=&deep\(c)\n") }
    for t in 1...threads { try out.write("thread \(t) name=worker\(t)\n") }
    let depth = min(Self.deepNesting, classes)
    var written = 0
    var taken = [Int](repeating: 0, count: depth)
    while written + 2 * depth <= events {
      let t = 1 + Int(rng.next() % UInt64(threads))
      // `depth` distinct classes in rank order: each class kept with
      // probability left-to-take / left-to-see (selection sampling).
      var n = 0
      for c in 0..<classes where n < depth {
        if rng.next() % UInt64(classes - c) < UInt64(depth - n) {
          taken[n] = c
          n += 1
        }
      }
      for c in taken { try out.write("\(t) acquire c\(c)\n") }
      var order = taken
      for i in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
      }
      for c in order { try out.write("\(t) release c\(c)\n") }
      written += 2 * depth
    }
    try Self.fill(events - written, thread: "1", into: &out)
  }

  /// How many locks the `deep` shape holds at once.
  static let deepNesting = 48
}
