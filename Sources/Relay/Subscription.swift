import MediaCrypto
import MediaPipeline
import MediaWire
import NIOCore

/// A subscriber's half of a session (mediasoup's Consumer): which publication and rendition it
/// receives, and, per kind, the stream the relay sends it — SSRC, payload type, rewriter and send
/// statistics — plus its rendition choice and adaptation. The per-packet work for one subscriber
/// is ``send(_:header:kind:capture:now:allocator:drops:)``.
final class Subscription {
    let peer: PeerSession
    /// The publication it receives; nil while it waits for a broadcast's next publisher.
    weak var publication: Publication?
    /// The id of the publication it receives or last received (what statistics show as `watching`).
    var source: String
    /// The rendition it receives.
    var quality: Quality
    /// Set when the relay may choose its rendition from its receiver reports.
    var adaptation: QualityController?
    /// When it last changed rendition on request, and the rendition it asked for since, sooner
    /// than ``RelayState/qualityChangeInterval`` allows (applied by the tick).
    var lastRequestedChange: MediaTime?
    var pendingQuality: Quality?
    /// What the relay sends for each kind: what forwarding touches per packet, without hashing.
    var slots = PerKind<OutgoingSlot?>(repeating: nil)
    var retransmissionBudget: RetransmissionBudget
    /// Packets it NACKed to be answered again (without transport-wide feedback only).
    var deferredNACKs = DeferredNACKs()
    /// The simulcast layer it receives and the one it moves to, when its publication is simulcast.
    var layers = LayerSelection()
    /// A key frame it asked for (its PLI or FIR) and has not been sent yet.
    var pendingKeyFrame = PendingKeyFrame()
    /// The temporal layers of that layer it gets.
    var temporal = TemporalLayerSelection()
    /// The subscriber's transport-wide sequence number id, when it negotiated transport-wide
    /// congestion control; then what was sent under each number, and the send-side estimate its
    /// feedback drives (``RelayState/transportFeedback(_:from:now:)``).
    let transportSequenceExtensionID: UInt8?
    var sendHistory: TransportWideSendHistory?
    var bandwidth: DelayBasedBandwidthEstimator?
    /// When its path may carry a better quality than it gets: trains that find out (needs RTX).
    var probe = BandwidthProbe()
    /// Without transport-wide feedback: whether its path carries more, before a move up (needs RTX).
    var roundTripProbe = RoundTripProbe()
    /// Since when its feedback has shown a queue read as a burst its path drains
    /// (``RelayState/isBurst(_:sending:now:)``), with no feedback between that signalled nothing
    /// (``RelayState/isCongested(_:)`` false).
    var burstSince: MediaTime?
    /// Since when its feedback has shown the delay trend's overuse alone as congestion, with no
    /// feedback between that did not (``RelayState/overuseHasLasted(since:trendOnly:now:)``).
    var overuseSince: MediaTime?

    /// Where the send-side estimate starts (bits/s): above any rendition, so that a viewer is not
    /// moved before its feedback says anything; the estimator holds it within 1.5× of what the
    /// viewer acknowledges from the first feedback on.
    static let initialEstimate = 3_000_000.0

    init(peer: PeerSession, source: String, quality: Quality, tracks: [OutgoingTrack]) {
        self.peer = peer
        self.source = source
        self.quality = quality
        transportSequenceExtensionID = NegotiatedMedia.transportSequenceExtensionID(of: peer.media)
        retransmissionBudget = RetransmissionBudget(repairing: transportSequenceExtensionID == nil)
        if transportSequenceExtensionID != nil {
            sendHistory = TransportWideSendHistory()
            bandwidth = DelayBasedBandwidthEstimator(start: Self.initialEstimate)
        }
        for track in tracks {
            guard slots[track.kind] == nil, let negotiated = peer.media.first(where: { $0.kind == track.kind }) else { continue }
            slots[track.kind] = OutgoingSlot(
                kind: track.kind, ssrc: track.ssrc, payloadType: negotiated.payloadType,
                stats: RTPSendStatistics(clockRate: track.kind.clockRate), rewriter: StreamRewriter(clockRate: track.kind.clockRate),
                captureTimeExtensionID: negotiated.captureTimeExtensionID,
                rtx: zip(track.rtxSSRC, negotiated.rtxPayloadType).map { RTXStream(ssrc: $0, payloadType: $1) })
        }
    }

    /// The kind of the stream the relay sends this subscriber as `ssrc`, if it is one of them.
    func kind(ofOutgoingSSRC ssrc: UInt32) -> MediaKind? {
        if slots.audio?.ssrc == ssrc { return .audio }
        if slots.video?.ssrc == ssrc { return .video }
        return nil
    }

    /// Writes `packet` (a publication's or a rendition's plain RTP) for this subscriber — its SSRC
    /// and payload type, continuous sequence numbers and timestamps, no CSRCs, and of the header
    /// extensions only the capture time, under the subscriber's own id, and the transport-wide
    /// sequence number when it negotiated one — into a new buffer and protects it there: one
    /// allocation. Nil when the subscriber is not connected or does not receive `kind`.
    func send(
        _ packet: ByteBuffer, header: RTPHeaderView, kind: MediaKind, capture: AbsoluteCaptureTime?, now: MediaTime,
        allocator: ByteBufferAllocator, drops: DropCounter, earns: Bool = true
    ) -> OutgoingDatagram? {
        guard let slot = slots[kind] else { return nil }
        guard
            let (seq, ts) = slots[kind]?.rewriter.rewrite(
                ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, now: now)
        else {
            drops.count("rtp-too-late")
            return nil
        }
        let payload = packet.readableBytesView.dropFirst(header.headerLength)
        guard
            let out = write(
                payload, marker: header.marker, padding: header.hasPadding, ssrc: slot.ssrc, payloadType: slot.payloadType, sequenceNumber: seq,
                timestamp: ts, captureTimeExtensionID: slot.captureTimeExtensionID, capture: capture, pictureIDSource: pictureIDSource(kind, header),
                now: now, allocator: allocator, drops: drops, earns: earns)
        else { return nil }
        slots[kind]?.stats.record(timestamp: ts, payloadBytes: payload.count, at: now)
        return out
    }

    /// A video packet it does not get (a temporal layer above its own, or a layer held back while
    /// it moves down, `held`): not sent, and its sequence number and picture ID closed up, so that
    /// what it does get stays one stream without holes.
    func skip(_ packet: ByteBuffer, header: RTPHeaderView, held: Bool = false) {
        guard slots.video != nil else { return }
        slots.video?.rewriter.skip(ssrc: header.ssrc, sequenceNumber: header.sequenceNumber)
        packet.withUnsafeReadableBytes { raw in
            guard header.headerLength < raw.count else { return }
            slots.video?.pictureIDs.skip(UnsafeRawBufferPointer(rebasing: raw[header.headerLength...]), ssrc: header.ssrc)
        }
        if held { peer.stats.layerHeld += 1 } else { peer.stats.temporalSkipped += 1 }
    }

    /// Its layer is taken again at a key frame after a hold was called off
    /// (``LayerSelection/holding``): base-layer pictures were left out too, so the key frame's
    /// TL0PICIDX follows the last one sent.
    func resumeAfterHold() { slots.video?.pictureIDs.resumeAtKeyFrame() }

    /// Sends a packet it NACKed again: on its RTX stream when it negotiated one
    /// ([RFC 4588 §4](https://www.rfc-editor.org/rfc/rfc4588#section-4): the RTX stream's SSRC,
    /// payload type and sequence numbers, the original sequence number as the payload's first two
    /// bytes, the original timestamp and marker), otherwise as it was first sent (``send``). A
    /// packet of the source forwarded before the current one (``StreamRewriter/earlier(_:)``)
    /// goes with the numbers it was sent under, `earlier`, and its picture IDs as they were (the
    /// caller, ``RelayState/feedback(_:from:now:)``, sends only a video packet whose IDs
    /// ``VP8PictureIDRewriter/forwardedBefore(_:)`` knows).
    func resend(
        _ packet: ByteBuffer, header: RTPHeaderView, kind: MediaKind, capture: AbsoluteCaptureTime?, now: MediaTime,
        allocator: ByteBufferAllocator, drops: DropCounter, earlier: (sequenceNumber: UInt16, timestampOffset: UInt32)? = nil
    ) -> OutgoingDatagram? {
        guard let slot = slots[kind] else { return nil }
        if slot.rtx == nil, earlier == nil {
            return send(packet, header: header, kind: kind, capture: capture, now: now, allocator: allocator, drops: drops, earns: false)
        }
        let seq: UInt16, ts: UInt32
        if let earlier {
            (seq, ts) = (earlier.sequenceNumber, header.timestamp &+ earlier.timestampOffset)
        } else {
            guard
                let numbers = slots[kind]?.rewriter.rewrite(
                    ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, now: now)
            else { return nil }
            (seq, ts) = numbers
        }
        let payload = packet.readableBytesView.dropFirst(header.headerLength)
        guard let rtx = slot.rtx else {
            return write(
                payload, marker: header.marker, padding: header.hasPadding, ssrc: slot.ssrc, payloadType: slot.payloadType, sequenceNumber: seq,
                timestamp: ts, captureTimeExtensionID: slot.captureTimeExtensionID, capture: capture, pictureIDSource: pictureIDSource(kind, header),
                earlier: true, now: now, allocator: allocator, drops: drops, earns: false)
        }
        let out = write(
            payload, originalSequenceNumber: seq, marker: header.marker, padding: header.hasPadding, ssrc: rtx.ssrc,
            payloadType: rtx.payloadType, sequenceNumber: rtx.nextSequence, timestamp: ts, captureTimeExtensionID: slot.captureTimeExtensionID,
            capture: capture, pictureIDSource: pictureIDSource(kind, header), earlier: earlier != nil, now: now, allocator: allocator, drops: drops,
            earns: false)
        if out != nil { slots[kind]?.rtx?.nextSequence &+= 1 }
        return out
    }

    /// A probe train (``BandwidthProbe``): the last ``BandwidthProbe/packets`` video packets it
    /// was sent, again, back to back on its RTX stream, from `cache` (where its NACKs are answered
    /// from). Nil without an RTX stream or transport-wide numbers, or with too little cached;
    /// else the datagrams, and the train's first number and length.
    func probeTrain(from cache: RetransmissionCache, captureTimeExtensionID: UInt8?, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter)
        -> (datagrams: [OutgoingDatagram], first: UInt16, count: Int)?
    {
        guard let first = sendHistory?.next else { return nil }
        let copies = copiesOfNewest(
            BandwidthProbe.packets, bytes: BandwidthProbe.maximumBytes, atLeast: 2, from: cache, captureTimeExtensionID: captureTimeExtensionID,
            now: now, allocator: allocator, drops: drops)
        guard let next = sendHistory?.next, copies.datagrams.count >= 2 else { return nil }
        return (copies.datagrams, first, Int(next &- first))
    }

    /// Redundant copies of the newest video packets it was sent (of at most the last `packets`,
    /// oldest first), on its RTX stream, from `cache`: as many as fit in `bytes`, but at least
    /// `atLeast` when there are that many. Its decoder drops them as duplicates; they are what
    /// probes (``BandwidthProbe``, ``RoundTripProbe``) send. None without an RTX stream.
    func copiesOfNewest(
        _ packets: Int, bytes limit: Int, atLeast: Int, from cache: RetransmissionCache, captureTimeExtensionID: UInt8?, now: MediaTime,
        allocator: ByteBufferAllocator, drops: DropCounter
    ) -> (datagrams: [OutgoingDatagram], bytes: Int) {
        guard let slot = slots.video, slot.rtx != nil, let newest = slot.rewriter.newestSent, packets > 0 else { return ([], 0) }
        var out: [OutgoingDatagram] = []
        var bytes = 0
        for back in (0..<UInt16(clamping: packets)).reversed() {
            guard let input = slot.rewriter.original(newest &- back), let original = cache.packet(input),
                let header = original.withUnsafeReadableBytes({ try? RTPHeaderView($0) }), header.ssrc == slot.rewriter.source
            else { continue }
            if out.count >= atLeast, bytes + original.readableBytes > limit { break }
            let capture = captureTimeExtensionID.flatMap { id in original.withUnsafeReadableBytes { AbsoluteCaptureTime(inPacket: $0, id: id) } }
            if let o = resend(original, header: header, kind: .video, capture: capture, now: now, allocator: allocator, drops: drops) {
                out.append(o)
                bytes += original.readableBytes
            }
        }
        return (out, bytes)
    }

    /// The stream whose VP8 picture IDs a video packet carries (for ``VP8PictureIDRewriter``).
    private func pictureIDSource(_ kind: MediaKind, _ header: RTPHeaderView) -> UInt32? { kind == .video ? header.ssrc : nil }

    /// One RTP packet for this subscriber, written and protected in a single buffer: the header
    /// (``RTPHeaderView/write(into:marker:padding:payloadType:sequenceNumber:timestamp:ssrc:capture:transportSequence:twoByteForm:)``,
    /// the next transport-wide number when negotiated), an RTX packet's original sequence number,
    /// the payload — a VP8 payload's picture ID and TL0PICIDX continued across the streams it
    /// forwards (`pictureIDSource`: the input stream; `earlier`: the stream forwarded before the
    /// current one, sent again as it was); counted as sent, and — unless it is a resend (`earns`
    /// false: a resend earns nothing, so the budget is a share of the media alone) — toward the
    /// retransmission budget.
    private func write(
        _ payload: ByteBufferView.SubSequence, originalSequenceNumber: UInt16? = nil, marker: Bool, padding: Bool, ssrc: UInt32,
        payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, captureTimeExtensionID: UInt8?, capture: AbsoluteCaptureTime?,
        pictureIDSource: UInt32? = nil, earlier: Bool = false, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter,
        earns: Bool = true
    ) -> OutgoingDatagram? {
        guard let srtpOut = peer.srtpOut, let address = peer.ice.selected else { return nil }
        var transport: (id: UInt8, value: UInt16)?
        if let id = transportSequenceExtensionID, let number = sendHistory?.number() { transport = (id, number) }
        var out = allocator.buffer(capacity: RTPHeaderView.maximumWrittenLength + 2 + payload.count + SRTPSession.maxTrailer)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: RTPHeaderView.maximumWrittenLength) { raw in
            RTPHeaderView.write(
                into: raw, marker: marker, padding: padding, payloadType: payloadType, sequenceNumber: sequenceNumber, timestamp: timestamp,
                ssrc: ssrc, capture: capture.flatMap { c in captureTimeExtensionID.map { ($0, c) } }, transportSequence: transport,
                twoByteForm: (captureTimeExtensionID ?? 0) > 14 || (transportSequenceExtensionID ?? 0) > 14)
        }
        if let originalSequenceNumber { out.writeInteger(originalSequenceNumber) }
        let payloadStart = out.writerIndex
        out.writeBytes(payload)
        if let pictureIDSource, slots.video != nil {
            let offset = payloadStart - out.readerIndex
            out.withUnsafeMutableReadableBytes { raw in
                let descriptor = UnsafeMutableRawBufferPointer(rebasing: raw[offset...])
                if earlier {
                    slots.video?.pictureIDs.rewriteEarlier(descriptor, ssrc: pictureIDSource)
                } else {
                    slots.video?.pictureIDs.rewrite(descriptor, ssrc: pictureIDSource)
                }
            }
        }
        let length = out.readableBytes
        let protected: Int? = out.withVeryUnsafeMutableBytes { raw in
            try? srtpOut.protectRTP(raw, length: length)
        }
        guard let protected else {
            drops.count("srtp-protect-failed")
            return nil
        }
        out.moveWriterIndex(to: protected)
        if let (_, number) = transport { sendHistory?.sent(number, bytes: protected, at: now) }
        peer.stats.packetsOut += 1
        peer.stats.bytesOut += protected
        if earns { retransmissionBudget.earn(protected) }
        return OutgoingDatagram(buffer: out, to: address, socket: peer.socketAddress)
    }

    /// Its periodic RTCP: a sender report per stream it receives and their CNAMEs
    /// ([RFC 3550 §6.4.1](https://www.rfc-editor.org/rfc/rfc3550#section-6.4.1)).
    func report(ntp: UInt64, now: MediaTime) -> OutgoingDatagram? {
        var packets: [RTCPPacket] = []
        for kind in MediaKind.allCases {
            guard let ssrc = slots[kind]?.ssrc, let sr = slots[kind]?.stats.senderReport(ssrc: ssrc, ntp: ntp, now: now) else { continue }
            packets.append(.senderReport(sr))
        }
        guard !packets.isEmpty else { return nil }
        let chunks = MediaKind.allCases.compactMap { slots[$0].map { RTCPSourceDescription.Chunk(ssrc: $0.ssrc, items: [.cname("showroom")]) } }
        packets.append(.sourceDescription(RTCPSourceDescription(chunks: chunks)))
        return peer.rtcp(packets)
    }
}

/// One outgoing stream of a subscriber.
struct OutgoingSlot {
    let kind: MediaKind
    let ssrc: UInt32
    let payloadType: UInt8
    var stats: RTPSendStatistics
    var rewriter: StreamRewriter
    /// The subscriber's abs-capture-time id for this stream, if it negotiated one.
    let captureTimeExtensionID: UInt8?
    /// Its retransmission stream, when the subscriber negotiated RTX.
    var rtx: RTXStream?
    /// Continues VP8 picture IDs across the streams it forwards (video).
    var pictureIDs = VP8PictureIDRewriter()
    /// When each recently retransmitted sequence number went out (by seq % 512).
    var resent: [(seq: UInt16, at: MediaTime)?] = .init(repeating: nil, count: 512)
}

/// A subscriber's RTX stream for one kind ([RFC 4588](https://www.rfc-editor.org/rfc/rfc4588)):
/// its own SSRC and payload type, and sequence numbers of its own.
struct RTXStream {
    let ssrc: UInt32
    let payloadType: UInt8
    var nextSequence = UInt16.random(in: 0...UInt16.max)
}

/// Both values, when both are there.
private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
