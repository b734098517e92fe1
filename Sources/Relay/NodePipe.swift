import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// One end of a media pipe between two nodes of a cluster (mediasoup's PipeTransport between
/// routers on two hosts): on the node holding a publication (the *origin*), what feeds one other
/// node's mirror of it; on that node (the *mirror*), what the mirror publication hears from the
/// origin. The origin sends each packet once per node — not per viewer — and the mirroring node
/// fans it out to its own viewers, as between the workers of one process (``PipeOut``). Its
/// datagrams (``NodePipeDatagram``) are encrypted and authenticated with ``NodePipeCipher``;
/// each end drops what it has heard before (a 64-datagram window, RFC 4303 §3.4.3's), and lets
/// the pipe go when the other end is silent for ``timeout``.
final class NodePipe {
    enum Role {
        /// The origin's end: it pipes publication `publication` through `pipe` — attached to the
        /// publication only once the mirroring node has been heard on the pipe (``confirmed``).
        case origin(publication: String, pipe: PipeOut)
        /// The mirroring node's end: mirror publication `publication`.
        case mirror(publication: String)
    }

    let role: Role
    let token: UInt64
    let cipher: NodePipeCipher
    /// The other end's media socket.
    let peer: PeerAddress
    /// The last counter this end sent.
    private var sent: UInt64 = 0
    /// The highest counter accepted and the 64 below it (bit i: `highest − i` seen).
    private var highest: UInt64 = 0
    private var seen: UInt64 = 0
    var lastHeard: MediaTime
    /// The other end has sent an authenticated datagram. Until then an origin sends nothing — not
    /// a packet, not a keep-alive — so a request naming someone else's address as the mirror's
    /// (to turn the origin on a victim) gets nothing sent there.
    var confirmed = false
    /// Datagrams sealed and sent, and accepted, for statistics.
    private(set) var datagramsSent = 0
    private(set) var datagramsReceived = 0

    /// How long an end waits for a word from the other (each sends one every second at least).
    static let timeout = MediaTime(microseconds: 5_000_000)

    init(role: Role, token: UInt64, cipher: NodePipeCipher, peer: PeerAddress, now: MediaTime) {
        self.role = role
        self.token = token
        self.cipher = cipher
        self.peer = peer
        lastHeard = now
    }

    var publication: String {
        switch role {
        case .origin(let id, _), .mirror(let id): id
        }
    }

    var isOrigin: Bool { if case .origin = role { true } else { false } }

    /// The origin's ``PipeOut`` (nil at a mirror).
    var pipeOut: PipeOut? { if case .origin(_, let pipe) = role { pipe } else { nil } }

    /// A datagram of `kind` to the other end, numbered and sealed; nil if sealing failed.
    func datagram(_ kind: NodePipeDatagram.Kind, _ plaintext: [UInt8] = []) -> OutgoingDatagram? {
        sent += 1
        guard let bytes = NodePipeDatagram(kind: kind, token: token, counter: sent, plaintext: plaintext).sealed(with: cipher) else { return nil }
        datagramsSent += 1
        return OutgoingDatagram(bytes: bytes, to: peer)
    }

    /// A media datagram of `packet` to the other end, numbered and sealed in place.
    func mediaDatagram(_ packet: ByteBuffer, kind: MediaKind, layer: Int?, allocator: ByteBufferAllocator) -> OutgoingDatagram? {
        sent += 1
        guard
            let buffer = NodePipeDatagram.media(packet, kind: kind, layer: layer, token: token, counter: sent, cipher: cipher, allocator: allocator)
        else { return nil }
        datagramsSent += 1
        return OutgoingDatagram(buffer: buffer, to: peer)
    }

    /// Whether `counter` is new: above the highest, or within the window and not yet seen.
    func isFresh(_ counter: UInt64) -> Bool {
        guard counter > 0 else { return false }
        if counter > highest { return true }
        let age = highest - counter
        return age < 64 && seen & (1 << age) == 0
    }

    /// Records an authenticated datagram's counter (after ``isFresh(_:)`` said it is new).
    func accept(_ counter: UInt64, now: MediaTime) {
        if counter > highest {
            let shift = counter - highest
            seen = shift >= 64 ? 1 : seen << shift | 1
            highest = counter
        } else {
            seen |= 1 << (highest - counter)
        }
        lastHeard = now
        datagramsReceived += 1
    }
}
