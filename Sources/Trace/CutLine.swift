import Basics
import LockGraph
import WaitContext

/// Whether a text trace's last line, which ends the file without a newline
/// and does not read, may be a line cut short (a copy of a trace still
/// being written, a full disk) rather than a wrong line.
///
/// A cut line is a prefix of a line that reads: some text appended to it,
/// given what the lines before declared, makes a line the reader takes.
/// That is tried, not guessed: the cut may have fallen inside the last
/// token, so the appended text first completes it (to a word of the
/// format, an option key, a declared class or stack, a longer number,
/// a closed quote), and may then add whole tokens (a class, a number,
/// an option with a value) while the line still only lacks more at its
/// end. Each trial is parsed by the reader's own parser into a consumer
/// that keeps nothing (`TextTraceParser.trial`). A line refused for a
/// wrong word (`zone_lok`, `tyr`, `foo=2`, a `sub=` past 7 or below 0, an
/// option repeated or not of its verb), for what an earlier token says (a
/// class or stack declared twice), or that ends in a comment (which a cut
/// cannot reach past), is not a cut: no appended text makes it read, and
/// it is the error it would be with its newline (spec/trace-format.md: a
/// malformed line stops the reader).
struct CutLine {
  /// The words of the format (verbs, flags, declarations, kinds, wait
  /// types, lock types, option keys with their `=`).
  static let words: [[UInt8]] = {
    var w: [String] = [TraceVocabulary.headerWord]
    w += TraceVocabulary.events.map(\.spelling)
    w += TraceVocabulary.flags.map(\.spelling)
    w += TraceVocabulary.options.map { $0.key + "=" }
    for d in TraceVocabulary.declarations {
      w.append(TraceVocabulary.rule(for: d.declaration).spelling)
      w += d.options.map { $0 + "=" }
    }
    w += LockKind.allCases.map(\.rawValue)
    w += WaitType.allCases.map(\.description)
    w += LockType.allCases.map(\.description)
    return w.map { Array($0.utf8) }
  }()

  /// Whether the reader refused a line for what it lacks at its end
  /// (`acquire needs a class`, `expected "stack <sid> <address> ..."`):
  /// its messages for a line too short.
  static func wantsMore(_ message: String) -> Bool {
    (message.hasPrefix("expected \"") || message.hasPrefix("expected a declaration or")
      || message.contains(" needs ")) && !message.contains(" before its options")
  }

  /// The most trial lines one judgement parses (a line still lacking
  /// tokens is tried with each filler, three deep): a few milliseconds'
  /// worth of short lines.
  static let maxTrials = 20_000
  /// The most bytes the trials parse in all: a long last line (up to the
  /// reader's 1 MiB) gets fewer trials, and the judgement stays well
  /// under a second and a few megabytes.
  static let maxTrialBytes = 64 << 20
  /// The most whole tokens a trial adds after completing the last one.
  static let maxAddedTokens = 3

  /// How `line` ends: in a comment (nil), or its last token's bytes as far
  /// as they go (unescaped), whether the cut fell inside quotes (and right
  /// after a backslash there), and whether it ends in a blank.
  struct Tail {
    var last: [UInt8] = []
    var inQuote = false
    var escaped = false
    var endsInBlank = true

    init?(_ line: UnsafeRawBufferPointer) {
      for byte in line {
        endsInBlank = false
        if inQuote {
          if escaped {
            escaped = false
            last.append(byte)
          } else if byte == UInt8(ascii: "\\") {
            escaped = true
          } else if byte == UInt8(ascii: "\"") {
            inQuote = false
          } else {
            last.append(byte)
          }
          continue
        }
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"):
          last.removeAll()
          endsInBlank = true
        case UInt8(ascii: "\""): inQuote = true
        case UInt8(ascii: "#"): return nil
        default: last.append(byte)
        }
      }
    }
  }

  /// Whether `key` can be written as a bare token (no blank, quote,
  /// comment, escape, `=` or control character), as the trials write names.
  static func isBare(_ key: [UInt8]) -> Bool {
    !key.isEmpty
      && !key.contains {
        $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "#")
          || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "=")
      }
  }

  /// What may follow `token` to complete it: the rest of each word of the
  /// format and of the first declared class and stack that extend it, more
  /// digits, and the rest of a UTF-8 character cut in two.
  static func completions(of token: [UInt8], classes: TokenTable, stacks: TokenTable)
    -> [[UInt8]]
  {
    var rests: [[UInt8]] = []
    for word in words where word.count > token.count && word.starts(with: token) {
      rests.append(Array(word[token.count...]))
    }
    for table in [classes, stacks] {
      if let key = table.key(extending: token, where: isBare) {
        rests.append(Array(key[token.count...]))
      }
    }
    rests += ["0", "1", "9999999999"].map { Array($0.utf8) }
    rests += [[0x80], [0x80, 0x80], [0x80, 0x80, 0x80], [0xA0, 0x80], [0x90, 0x80, 0x80]]
    return rests
  }

  /// Whole tokens a trial may add: a declared class and stack, a lock
  /// kind, a verb of each operand, a number, a name, and each option with
  /// a value of its kind.
  static func fillers(classes: TokenTable, stacks: TokenTable) -> [[UInt8]] {
    let someClass = classes.key(extending: [], where: isBare)
    let someStack = stacks.key(extending: [], where: isBare)
    var tokens: [[UInt8]] = [someClass, someStack].compactMap { $0 }
    tokens += ["1", "x", LockKind.mutex.rawValue].map { Array($0.utf8) }
    // A verb of each operand: none (`exit`), a class, an address and length.
    for verb in [LockEvent.Verb.exit, .acquire, .free] {
      tokens.append(Array(TraceVocabulary.events[Int(verb.rawValue)].spelling.utf8))
    }
    for rule in TraceVocabulary.options {
      let value: [UInt8]?
      switch rule.value {
      case .subclass: value = Array("0".utf8)
      case .address: value = Array("1".utf8)
      case .lockClass: value = someClass
      case .stack: value = someStack
      }
      if let value { tokens.append(Array((rule.key + "=").utf8) + value) }
    }
    let declarationValues = [
      "name": "x", "inner": WaitType.spin.description, "outer": WaitType.spin.description,
      "type": LockType.normal.description, "build-id": "ab",
    ]
    for d in TraceVocabulary.declarations {
      for key in d.options {
        tokens.append(Array((key + "=" + (declarationValues[key] ?? "x")).utf8))
      }
    }
    return tokens
  }
}

extension TextTraceParser {
  /// Whether `line`, the trace's last line (without a newline), refused
  /// with `message`, may be a line cut short (`CutLine`). Call it only at
  /// the end of the trace: the trials may leave what they declared in the
  /// tables of ids (never in the symbols, the events or the consumer).
  /// A line the consumer refused (a class a merged trace declared as
  /// another kind, one class too many) is no cut: the parser took it.
  mutating func mayBeCut(_ line: UnsafeRawBufferPointer, message: String) -> Bool {
    guard !lastRefusalWasTheConsumers, let tail = CutLine.Tail(line) else { return false }
    // What may follow the line: each trial is the line and one of these.
    var suffixes: [[UInt8]] = []
    if tail.inQuote {
      // Close the quote (after a backslash, the quote would be escaped).
      let close: [UInt8] = tail.escaped ? Array("\\\"".utf8) : [UInt8(ascii: "\"")]
      suffixes.append(close)
      for rest in CutLine.completions(of: tail.last, classes: classIDs, stacks: stackIDs) {
        suffixes.append((tail.escaped ? [UInt8(ascii: "\\")] : []) + rest + close)
      }
    } else if tail.endsInBlank {
      // A whole token ends the line: only more tokens can make it read.
      guard CutLine.wantsMore(message) else { return false }
      suffixes.append([])
    } else {
      suffixes.append([])
      var token = tail.last
      // Within an option, the value is what the cut fell in.
      if let equals = token.firstIndex(of: UInt8(ascii: "=")), equals > 0 {
        token = Array(token[(equals + 1)...])
        suffixes.append(Array("x".utf8))
      }
      for rest in CutLine.completions(of: token, classes: classIDs, stacks: stackIDs) {
        suffixes.append(rest)
        // An option key completed needs its value.
        if rest.last == UInt8(ascii: "=") {
          for value in ["0", "1", "x", "spin", "normal", "ab"] {
            suffixes.append(rest + Array(value.utf8))
          }
          for table in [classIDs, stackIDs] {
            if let key = table.key(extending: [], where: CutLine.isBare) {
              suffixes.append(rest + key)
            }
          }
        }
      }
    }
    let fillers = CutLine.fillers(classes: classIDs, stacks: stackIDs)
    // Every trial parses the whole line: fewer of a long one.
    let budget = min(CutLine.maxTrials, max(64, CutLine.maxTrialBytes / (line.count + 64)))
    var trials = 0
    var candidate: [UInt8] = []
    candidate.reserveCapacity(line.count + 256)
    for added in 0...CutLine.maxAddedTokens {
      var next: [[UInt8]] = []
      for suffix in suffixes {
        guard trials < budget else { return false }
        trials += 1
        // The line as it was is known not to read; what it lacks is known.
        let outcome: String?
        if suffix.isEmpty {
          outcome = message
        } else {
          candidate.removeAll(keepingCapacity: true)
          candidate.append(contentsOf: line)
          candidate.append(contentsOf: suffix)
          outcome = trial(candidate)
        }
        guard let refusal = outcome else { return true }
        guard CutLine.wantsMore(refusal), added < CutLine.maxAddedTokens else { continue }
        for filler in fillers where trials + next.count < budget {
          next.append(suffix + [UInt8(ascii: " ")] + filler)
        }
      }
      suffixes = next
      if suffixes.isEmpty { break }
    }
    return false
  }
}
