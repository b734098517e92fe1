import Foundation
import Histogram
import MediaCrypto
import NIOCore
import Synchronization
import WebRTCClient

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What every simulated media peer reports into: latencies in HdrHistograms (µs, behind one lock:
/// at most a few thousand frames a second), counts atomic.
final class MediaState: MediaPeerObserver {
    let connected = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    /// Glass-to-glass and freezes are counted only inside the measuring window.
    let measuring = Atomic<Bool>(false)
    let freezes = Atomic<Int>(0)
    /// Frames rendered inside the window, counted where glass-to-glass is recorded — under the same
    /// reading of `measuring` — so that the two counts agree (peers' own totals, snapshotted one
    /// by one around the window, did not: 9,014 frames against 9,000 latencies).
    let renderedWhileMeasuring = Atomic<Int>(0)
    struct Histograms {
        var connect = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        var firstMedia = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        var firstFrame = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        var glassToGlass = Histogram<UInt64>(highestTrackableValue: 60_000_000)
    }
    let histograms = Mutex(Histograms())
    let errors = Mutex<[String: Int]>([:])

    func error(_ kind: String) { errors.withLock { $0[kind, default: 0] += 1 } }

    func connected(after micros: Int64) {
        connected.add(1, ordering: .relaxed)
        histograms.withLock { _ = $0.connect.record(UInt64(max(micros, 0))) }
    }
    func firstMedia(after micros: Int64) { histograms.withLock { _ = $0.firstMedia.record(UInt64(max(micros, 0))) } }
    func rendered(_ frame: ReceiveMonitor.RenderedFrame, firstAfter micros: Int64?) {
        let measuring = measuring.load(ordering: .relaxed)
        if measuring { renderedWhileMeasuring.add(1, ordering: .relaxed) }
        if measuring, let gap = frame.gapMicros, gap > 500_000 { freezes.add(1, ordering: .relaxed) }
        guard micros != nil || measuring else { return }
        histograms.withLock {
            if let micros { _ = $0.firstFrame.record(UInt64(max(micros, 0))) }
            if measuring, let g = frame.glassToGlassMicros { _ = $0.glassToGlass.record(UInt64(max(g, 0))) }
        }
    }
    func failed(_ code: ClientError.Code) {
        failed.add(1, ordering: .relaxed)
        error(code.rawValue)
    }
    /// A session that could not be set up (signaling, answer, socket): counted by its kind.
    func failed(_ error: any Error) {
        failed.add(1, ordering: .relaxed)
        self.error((error as? ClientError)?.code.rawValue ?? "connect")
    }
    func dropped(_ reason: String) { error("dropped_" + reason) }
}

/// One WHIP or WHEP session (RFC 9725): the POST of the offer, the peer, the DELETE at the end.
struct WHIPSession {
    let peer: MediaPeer
    let location: URL

    /// POSTs `offer` to `endpoint` with `token` and starts the peer with the answer.
    static func open(
        endpoint: URL, token: String, role: MediaPeer.Role, certificate: DTLSCertificate, via: SocketAddress?,
        transport: MediaPeer.Transport = .udp, group: EventLoopGroup, state: MediaState
    ) async throws -> WHIPSession {
        let offer = ClientOffer(direction: { if case .publisher = role { .send } else { .receive } }(), fingerprint: certificate.fingerprint)
        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.setValue("application/sdp", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(offer.sdp.utf8)
        let started = monotonicMicros()
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == 201,
            let location = http.value(forHTTPHeaderField: "Location").flatMap({ URL(string: $0, relativeTo: endpoint) })
        else {
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            throw ClientError(.http, "HTTP \(status): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        let answer = try ServerAnswer(parsing: String(decoding: data, as: UTF8.self))
        let peer = try await MediaPeer.start(
            role: role, offer: offer, answer: answer, certificate: certificate, via: via, transport: transport, group: group, observer: state,
            signalingStarted: started)
        return WHIPSession(peer: peer, location: location.absoluteURL)
    }

    /// Stops the peer and ends the session on the server.
    func close(token: String) async {
        await peer.stop()
        var request = URLRequest(url: location)
        request.httpMethod = "DELETE"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        _ = try? await URLSession.shared.data(for: request)
    }
}

/// Sums of peer counters, and the difference of two sums (what happened inside a window).
struct MediaTotals {
    /// Every counter of every peer, added up (the same fields as one peer's).
    private(set) var sum = MediaPeerSnapshot()
    private(set) var jitter: [Double] = []
    private(set) var perViewerBytes: [Int] = []

    /// The counters that add up across peers and subtract across time.
    private static var counters: [WritableKeyPath<MediaPeerSnapshot, Int>] { [
        \.receivedBytes, \.renderedFrames, \.abandonedFrames, \.nacksSent, \.recoveredPackets, \.reorderedPackets, \.duplicatePackets,
        \.plisSent, \.sentBytes, \.nacksReceived, \.retransmissionsSent, \.plisReceived,
    ] }
    private static var packetCounters: [WritableKeyPath<MediaPeerSnapshot, Int64>] { [\.expectedPackets, \.lostPackets] }

    init(_ snapshots: [MediaPeerSnapshot], viewers: Bool) {
        for s in snapshots {
            for k in Self.counters { sum[keyPath: k] += s[keyPath: k] }
            for k in Self.packetCounters { sum[keyPath: k] += s[keyPath: k] }
            if viewers, s.connected { jitter.append(s.jitterMilliseconds) }
            perViewerBytes.append(s.receivedBytes)
        }
    }

    static func - (a: MediaTotals, b: MediaTotals) -> MediaTotals {
        var d = a
        for k in counters { d.sum[keyPath: k] -= b.sum[keyPath: k] }
        for k in packetCounters { d.sum[keyPath: k] -= b.sum[keyPath: k] }
        if a.perViewerBytes.count == b.perViewerBytes.count {
            d.perViewerBytes = zip(a.perViewerBytes, b.perViewerBytes).map { $0 - $1 }
        }
        return d
    }
}

func snapshots(_ peers: [MediaPeer]) async -> [MediaPeerSnapshot] {
    var out: [MediaPeerSnapshot] = []
    for p in peers { out.append(await p.snapshot()) }
    return out
}
