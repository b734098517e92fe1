import MediaPipeline
import MediaWire

/// The codec side of a rendition as the relay's loop sees it: packets in, key-frame requests,
/// stop; what it produces comes back as a ``RenditionOutput`` through the relay. In the server
/// it is a ``TranscodingEngine`` on a codec thread; in tests, a fake that records what it was asked.
protocol RenditionEncoder: AnyObject {
    /// The abs-capture-time id its output packets carry (the publisher's, written back).
    var captureTimeExtensionID: UInt8? { get }
    /// Hands one of the publication's packets to the codecs; false when it was dropped (backlog).
    func feed(_ packet: RTPPacket, kind: MediaKind, arrival: MediaTime) -> Bool
    /// Asks the encoder for a key frame (a subscriber joined, moved here, or lost one).
    func requestKeyFrame()
    func stop()
}

/// A transcoded rendition of a publication (mediasoup's closest noun is a Producer made by a
/// transcoder), shared by every subscriber that asked for its ``Quality``: started with its first
/// subscriber and stopped after its last. Inside the relay it is a source of its own: its output
/// packets go through the same per-subscriber rewriting as the publication's.
final class Rendition {
    let quality: Quality
    let encoder: any RenditionEncoder
    /// Whether audio is transcoded too (`.low`) or forwarded from the source (`.medium`).
    let transcodesAudio: Bool
    var subscribers: [Subscription] = []
    /// The rendition's own packets by kind, to answer its subscribers' NACKs.
    var cache = PerKind(repeating: RetransmissionCache())

    init(quality: Quality, encoder: any RenditionEncoder) {
        self.quality = quality
        self.encoder = encoder
        transcodesAudio = quality == .low
    }

    /// Whether this rendition makes its own packets of `kind`; if not, its subscribers get the
    /// publication's packets of that kind.
    func produces(_ kind: MediaKind) -> Bool { kind == .video || transcodesAudio }
}
