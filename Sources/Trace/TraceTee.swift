/// Where a reader hands every byte it reads from a stream, in order, as
/// it reads them: a copy made while the stream is read and checked, so
/// that a stream that stops reading as a trace stops being copied where
/// the reader stops (`convert -` reads its input twice, the second time
/// from the copy). Returns nil to go on, or a message that ends the
/// reading as an error (the copy's disk is full).
public typealias TraceTee = (UnsafeRawBufferPointer) -> String?
