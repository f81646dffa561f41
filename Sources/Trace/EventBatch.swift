import LockGraph

/// Events a reader has decoded but not yet handed to its consumer, with
/// where each was read (a text line, or a binary record's byte offset), so
/// that the consumer is called once per batch rather than once per event.
///
/// Readers flush the batch before any declaration reaches the consumer, and
/// before they report an error or a truncation: the consumer sees the same
/// calls in the same order as without a batch, and a refused event is still
/// the first error reported.
struct EventBatch: ~Copyable {
  /// Events per batch: large enough that a flush costs nothing per event,
  /// small enough to stay in the first-level cache's neighbourhood.
  static let capacity = 1024
  private let events: UnsafeMutablePointer<LockEvent>
  private let positions: UnsafeMutablePointer<Int64>
  /// Events held.
  private(set) var count = 0

  /// An empty batch.
  init() {
    events = .allocate(capacity: Self.capacity)
    positions = .allocate(capacity: Self.capacity)
  }

  deinit {
    events.deallocate()
    positions.deallocate()
  }

  /// True when no event fits.
  var isFull: Bool { count == Self.capacity }

  /// Adds `event`, read at `position` (the batch must not be full).
  @inline(__always)
  mutating func append(_ event: LockEvent, at position: Int64) {
    (events + count).initialize(to: event)
    positions[count] = position
    count += 1
  }

  /// The free event and position slots, and how many there are: a
  /// decoder's loop fills them in order and then says how many with
  /// `commit(_:)`, keeping the count in a register rather than storing it
  /// per event. The slots stay valid while the batch lives.
  @inline(__always)
  func freeSlots() -> (
    events: UnsafeMutablePointer<LockEvent>, positions: UnsafeMutablePointer<Int64>, free: Int
  ) {
    (events + count, positions + count, Self.capacity - count)
  }

  /// Adds the first `filled` of the slots `freeSlots()` gave.
  @inline(__always)
  mutating func commit(_ filled: Int) {
    precondition(filled >= 0 && filled <= Self.capacity - count)
    count += filled
  }

  /// Hands every event to `consumer` and empties the batch.
  /// - Returns: nil, or the position of the event the consumer refused
  ///   (events after it are dropped unconsumed) and why.
  mutating func flush<C: TraceConsumer>(into consumer: inout C) -> (
    position: Int64, error: EventError
  )? {
    if count == 0 { return nil }
    let n = count
    count = 0
    // With the positions: the pipeline's sink sends them on, and a refusal
    // comes back from the other thread. (A requirement, not a cast: a cast
    // of a consumer copies it, once a batch.)
    guard
      let refused = consumer.consume(
        UnsafeBufferPointer(start: events, count: n), positions: positions)
    else {
      return nil
    }
    return (positions[refused.index], refused.error)
  }
}
