/// What a viewer asks to receive (WHEP `?quality=`).
public enum Quality: String, Sendable, CaseIterable {
    /// The publisher's packets, forwarded untouched but for SSRC and payload type.
    case source
    /// 640×360 VP8 at about 600 kbit/s; audio forwarded.
    case medium
    /// 320×180 VP8 at 225 kbit/s and Opus mono at 24 kbit/s: with packet overhead about 265 kbit/s,
    /// so that it fits a 300 kbit/s path with room left for retransmissions.
    case low
}
