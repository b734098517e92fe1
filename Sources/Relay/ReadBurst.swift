import NIOCore
import MediaPipeline

/// One burst of reads on a media worker's socket or ICE-TCP connection — from its first read to
/// `channelReadComplete` — and what ends it: the other workers' share handed over in one hop each
/// (``PipeOut``), one flush of everything the burst answered, and the burst's time counted as the
/// worker's busy time (``LoopLoad``). The UDP handler and every ICE-TCP connection keep one.
struct ReadBurst {
    private var start: NIODeadline?
    private var pending = 0

    /// A read arrived (the burst starts with the first).
    mutating func read() {
        if start == nil { start = .now() }
    }

    /// The read produced `count` datagrams, queued on `output`.
    mutating func queued(_ count: Int) { pending += count }

    /// The burst is over: pipes, one flush, busy time.
    mutating func end(state: RelayState, output: MediaOutput) {
        let toNodes = state.flushPipes()
        if !toNodes.isEmpty {
            output.write(toNodes)
            pending += toNodes.count
        }
        if pending > 0 {
            output.flush()
            pending = 0
        }
        if let start {
            self.start = nil
            state.loopLoad.worked(MediaTime(microseconds: Int64((NIODeadline.now() - start).nanoseconds / 1_000)))
        }
    }
}
