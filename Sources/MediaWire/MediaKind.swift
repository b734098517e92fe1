/// What a media stream carries. Every table in the media plane that holds something per kind is
/// a ``PerKind`` indexed by this, so there is one order and no kind strings on the packet path.
public enum MediaKind: String, Sendable, Hashable, CaseIterable, Codable {
    case audio
    case video

    /// The RTP clock rate of the codec Showroom uses for this kind: Opus runs at 48 kHz
    /// ([RFC 7587 §4.1](https://www.rfc-editor.org/rfc/rfc7587#section-4.1)), VP8 at 90 kHz
    /// ([RFC 7741 §6.1](https://www.rfc-editor.org/rfc/rfc7741#section-6.1)).
    public var clockRate: Int {
        switch self {
        case .audio: 48_000
        case .video: 90_000
        }
    }

    /// The kind an SDP `m=` line names, nil for anything else (`application`, `text`, …).
    public init?(sdp media: String) { self.init(rawValue: media) }
}

/// One value for each ``MediaKind``, held inline: reading or writing it costs no hashing, which
/// matters on the forwarding path.
public struct PerKind<Value> {
    public var audio: Value
    public var video: Value

    public init(audio: Value, video: Value) {
        self.audio = audio
        self.video = video
    }

    /// The same value for both kinds.
    public init(repeating value: Value) {
        audio = value
        video = value
    }

    public subscript(kind: MediaKind) -> Value {
        get { kind == .audio ? audio : video }
        // In place: a mutation through the subscript does not copy the value (a slot's arrays stay unique).
        _modify {
            if kind == .audio { yield &audio } else { yield &video }
        }
    }

    /// Each kind with its value, audio first.
    public var all: [(kind: MediaKind, value: Value)] { [(.audio, audio), (.video, video)] }
}

extension PerKind: Sendable where Value: Sendable {}
extension PerKind: Equatable where Value: Equatable {}
