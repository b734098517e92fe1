import MediaPipeline
import MediaWire
import NIOCore
import Synchronization

/// One of a publication's plain RTP packets on its way to another worker.
struct PipedPacket: Sendable {
    let packet: ByteBuffer
    let kind: MediaKind
    /// The simulcast layer a video packet belongs to, as the origin found it: a mirror cannot
    /// learn it from the RID extension, which a browser stops sending once its SSRCs are known.
    var layer: Int? = nil
}

/// What a worker needs to know of a publication held on another worker to mirror it: its id
/// (the mirror's too, so that a subscriber names both alike), room, what was negotiated with its
/// publisher, and whether it is a broadcast's.
struct PublicationDescription: Sendable {
    let id: String
    let room: String
    let kinds: [MediaKind]
    let captureTimeExtensionIDs: PerKind<UInt8?>
    let exclusive: Bool
    /// Its simulcast encodings and RID extension id (``Publication/layers``): empty and nil for one stream.
    let rids: [String]
    let ridExtensionID: UInt8?
}

/// Packets a pipe has handed to the far worker's loop that it has not fanned out yet, counted
/// on both loops: what bounds the memory a far loop that falls behind can make the origin queue.
final class PipeGauge: Sendable {
    private let packets = Atomic<Int>(0)
    init() {}
    var inFlight: Int { packets.load(ordering: .relaxed) }
    func sent(_ n: Int) { packets.add(n, ordering: .relaxed) }
    /// Called by the far end once it has fanned out a batch.
    func done(_ n: Int) { packets.subtract(n, ordering: .relaxed) }
}

/// The sending end of a pipe (mediasoup's PipeTransport between two routers, here between two
/// event loops of one process): an origin ``Publication`` hands each packet it receives to each
/// of its pipes once — not once per subscriber — and the pipe carries a loop turn's packets to
/// the other worker in one hop (``flush()``), where a mirror publication fans them out to that
/// worker's subscribers.
///
/// A pipe is made when a room's subscribers spread beyond the worker holding its publication
/// (``RelayDirectory``'s placement rule); `send` and `end` hop to the other worker's loop. The
/// hand-off drops only what its bounds refuse (``maximumBatch``, ``maximumInFlight``, counted
/// `pipe-backlog`), so the far end needs no NACKs of its own: what the origin lacks it asks its
/// publisher for, and the answer is piped on.
final class PipeOut {
    /// The worker at the far end.
    let worker: Int
    /// Which mirror on that worker this pipe feeds (a later mirror of the same publication, made
    /// after this one was let go, gets another).
    let token: UInt64
    let gauge = PipeGauge()
    private var batch: [PipedPacket] = []
    private let send: ([PipedPacket], PipeGauge) -> Void
    private let ended: () -> Void
    /// Packets handed on and batches sent, for statistics.
    private(set) var packets = 0
    private(set) var batches = 0
    /// Packets one loop turn may queue for the far end: a turn reads a few vector reads of 32
    /// datagrams, so this is only reached when flushes stopped.
    static let maximumBatch = 1_024
    /// Packets handed over and not yet fanned out by the far end: past this its loop is behind
    /// by seconds of a stream (~1.5 MB), and a batch is dropped rather than queued (counted).
    static let maximumInFlight = 1_024

    init(worker: Int, token: UInt64, send: @escaping ([PipedPacket], PipeGauge) -> Void, ended: @escaping () -> Void) {
        self.worker = worker
        self.token = token
        self.send = send
        self.ended = ended
    }

    /// Queues `packet` for the far end; false (dropped) when the batch is full.
    func enqueue(_ packet: ByteBuffer, kind: MediaKind, layer: Int? = nil) -> Bool {
        guard batch.count < Self.maximumBatch else { return false }
        batch.append(PipedPacket(packet: packet, kind: kind, layer: layer))
        return true
    }

    /// Sends what was queued since the last flush, in one hop; returns the packets sent, and
    /// those dropped because the far end has ``maximumInFlight`` to fan out still.
    @discardableResult
    func flush() -> (sent: Int, dropped: Int) {
        guard !batch.isEmpty else { return (0, 0) }
        defer { batch = [] }
        guard gauge.inFlight + batch.count <= Self.maximumInFlight else { return (0, batch.count) }
        packets += batch.count
        batches += 1
        gauge.sent(batch.count)
        send(batch, gauge)
        return (batch.count, 0)
    }

    /// The origin publication has ended: what was queued goes, then the far end is told.
    func end() {
        flush()
        ended()
    }
}
/// The far end's way back to the origin, held by a mirror publication: a key frame its
/// subscribers or renditions need, and packets a rendition's decoder misses, go to the worker
/// holding the publisher, which asks the publisher itself (throttled there as for its own
/// subscribers).
struct PipeUpstream {
    /// A key frame of one simulcast layer, or (nil) of everything the publisher sends.
    let requestKeyFrame: (Int?) -> Void
    let nack: ([UInt16], MediaKind) -> Void
    /// The mirror has no subscriber left: the origin stops piping to it.
    let detach: () -> Void
}
