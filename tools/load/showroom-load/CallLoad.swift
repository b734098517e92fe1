import Foundation
import HummingbirdWSClient
import MediaCrypto
import NIOCore
import Synchronization
import WebRTCClient

/// The peers of a run, to snapshot while measuring and to stop at the end.
final class PeerRegistry: Sendable {
    private let peers = Mutex<(publishers: [MediaPeer], viewers: [MediaPeer], closed: Bool)>(([], [], false))
    /// Keeps a peer; false once the run is closing (the caller stops the peer: nobody else will).
    func add(_ peer: MediaPeer, publishing: Bool) -> Bool {
        peers.withLock {
            guard !$0.closed else { return false }
            if publishing { $0.publishers.append(peer) } else { $0.viewers.append(peer) }
            return true
        }
    }
    var publishers: [MediaPeer] { peers.withLock { $0.publishers } }
    var viewers: [MediaPeer] { peers.withLock { $0.viewers } }
    /// Stops every peer, and any that arrives later.
    func close() async {
        let all = peers.withLock { p -> [MediaPeer] in
            p.closed = true
            return p.publishers + p.viewers
        }
        for peer in all { await peer.stop() }
    }
}

/// One side of a 1:1 consultation over `/ws`, as the shop widget and the agent console do it:
/// publish camera and microphone once joined (`publish` → `answer`), and subscribe to the other
/// side's publication when `joined` lists it or a `track` event announces it.
final class Call: Sendable {
    struct Setup: Sendable {
        let media: EncodedMedia
        let certificate: DTLSCertificate
        let group: EventLoopGroup
        let state: MediaState
        let registry: PeerRegistry
        let quality: String
        let via: SocketAddress?
    }

    let setup: Setup
    private struct Progress {
        var me: String?
        var subscribed = false
        var publishOffer: (ClientOffer, Int64)?
        var subscribeOffer: (ClientOffer, Int64)?
    }
    private let progress = Mutex(Progress())

    init(_ setup: Setup) { self.setup = setup }

    private static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    private static func send(_ message: [String: Any], _ outbound: WebSocketOutboundWriter) async throws {
        let data = try JSONSerialization.data(withJSONObject: message)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }

    func welcome(_ text: String) async {
        let id = (Self.object(text)?["participant"] as? [String: Any])?["id"] as? String
        progress.withLock { $0.me = id }
    }

    func joined(_ text: String, outbound: WebSocketOutboundWriter) async throws {
        let offer = ClientOffer(direction: .send, fingerprint: setup.certificate.fingerprint)
        progress.withLock { $0.publishOffer = (offer, monotonicMicros()) }
        try await Self.send(["type": "publish", "ref": "pub", "sdp": offer.sdp], outbound)
        let publishers = Self.object(text)?["publishers"] as? [String: String] ?? [:]
        let me = progress.withLock { $0.me }
        if let (session, _) = publishers.first(where: { $0.value != me }) { try await subscribe(to: session, outbound) }
    }

    private func subscribe(to session: String, _ outbound: WebSocketOutboundWriter) async throws {
        let offer = ClientOffer(direction: .receive, fingerprint: setup.certificate.fingerprint)
        let first = progress.withLock { p -> Bool in
            guard !p.subscribed else { return false }
            p.subscribed = true
            p.subscribeOffer = (offer, monotonicMicros())
            return true
        }
        guard first else { return }
        try await Self.send(["type": "subscribe", "ref": "sub", "sdp": offer.sdp, "source": session, "quality": setup.quality], outbound)
    }

    /// An `answer` (to our publish or subscribe) or a `track` event.
    func signal(_ text: String, outbound: WebSocketOutboundWriter) async throws {
        guard let m = Self.object(text) else { return }
        if m["type"] as? String == "track" {
            let me = progress.withLock { $0.me }
            if m["event"] as? String == "published", let session = m["session"] as? String, m["participant"] as? String != me {
                try await subscribe(to: session, outbound)
            }
            return
        }
        guard let sdp = m["sdp"] as? String else { return }
        let publishing = m["ref"] as? String == "pub"
        guard let (offer, started) = progress.withLock({ publishing ? $0.publishOffer : $0.subscribeOffer }) else { return }
        do {
            let peer = try await MediaPeer.start(
                role: publishing ? .publisher(setup.media) : .viewer, offer: offer, answer: ServerAnswer(parsing: sdp), certificate: setup.certificate,
                via: publishing ? nil : setup.via, group: setup.group, observer: setup.state, signalingStarted: started)
            if !setup.registry.add(peer, publishing: publishing) { await peer.stop() }
        } catch {
            setup.state.failed(error)
        }
    }
}
