import MediaPipeline
import MediaWire
import NIOCore

/// A publisher's half of a session (mediasoup's Producer): what it sends, who receives it — the
/// subscribers of its source stream and its transcoded ``Rendition``s with theirs — and the rules
/// that follow from that. Where a publisher's packet goes is ``receive(_:header:kind:now:allocator:drops:)``
/// then ``fanOut(_:header:kind:capture:now:allocator:drops:)``; where a subscriber's key-frame
/// request goes is ``keyFrameRequested(by:now:)``; where a NACKed packet is found is
/// ``retransmissionSource(for:kind:)``.
///
/// A publication is held by the worker its publisher is on; a room whose subscribers spread over
/// other workers gets a *mirror* publication on each of them, fed through a ``PipeOut`` with what
/// the origin receives, with the same id, and with key-frame requests and NACKs going back up
/// the pipe (``Origin/pipe(_:token:)``). Everything else — fan-out, renditions, caches — is the
/// same for both.
final class Publication {
    /// Where its packets come from.
    enum Origin {
        /// Its publisher's own session, on this worker.
        case publisher(PeerSession)
        /// The publication of that id on another worker, through a pipe; `token` names this
        /// mirror to the origin's ``PipeOut``.
        case pipe(PipeUpstream, token: UInt64)
    }

    let origin: Origin
    /// The publisher's session when it is on this worker (nil for a mirror).
    var peer: PeerSession? { if case .publisher(let p) = origin { p } else { nil } }
    let id: String
    let room: String
    /// The kinds its publisher sends, in the order negotiated (what a subscriber's tracks are made from).
    let kinds: [MediaKind]
    /// A broadcast's only publisher (WHIP), whose subscribers follow its successor.
    let exclusive: Bool
    /// Pipes to the other workers that mirror it, one per worker.
    private(set) var pipes: [PipeOut] = []
    /// A mirror's subscribers follow the next publisher only once its pipe is attached
    /// (``RelayState/mirrorAttached(id:token:)``).
    var attached = false
    /// A mirror of another node's publication (``RelayState/mirrorFromNode(_:token:secret:now:)``):
    /// the other workers of this process mirror it in turn, as they would an origin here.
    var fromNode = false
    /// Since when a mirror has had no subscriber (``RelayState/sweepMirrors(now:)``).
    var emptySince: MediaTime?
    /// Subscribers of the source stream, held directly: fan-out does no lookup per subscriber.
    private(set) var subscribers: [Subscription] = []
    /// Running renditions by quality, each with its subscribers.
    private(set) var renditions: [Quality: Rendition] = [:]
    /// The SSRC each kind arrives with (learnt from the first packet).
    private(set) var ssrc = PerKind<UInt32?>(repeating: nil)
    /// The publisher's abs-capture-time id per kind.
    let captureTimeExtensionIDs: PerKind<UInt8?>
    /// The source's plain RTP, to answer NACKs: video only (the answer offers `nack` for VP8
    /// only), from its first packet on.
    private var cache = PerKind<RetransmissionCache?>(repeating: nil)
    /// Incoming streams by SSRC (at most ``RelayLimits/ssrcsPerSession``).
    private(set) var receiveStats: [UInt32: RTPReceiveStatistics] = [:]
    /// Bytes received in the current reporting interval, for the REMB estimate.
    private var intervalBytes = 0
    /// What it sends, bits/s, over the last reporting interval.
    private(set) var incomingBitrate: Double?
    private var lastKeyFrameRequest: MediaTime?
    /// When the latest key frame of its video (of any layer) started to arrive.
    private var lastKeyFrame: MediaTime?
    /// The publisher's transport-wide sequence number id, when it negotiated transport-wide
    /// congestion control; then what arrived, for the feedback ``transportFeedback()`` sends it.
    let transportSequenceExtensionID: UInt8?
    private var arrivals: TransportWideFeedbackBuilder?
    /// A subscriber wanted a key frame before the first video packet (and so the SSRC a PLI must
    /// name) arrived: the PLI goes out with that packet.
    private(set) var keyFrameOwed = false
    /// Its video's simulcast encodings (RFC 8853), empty when it sends one: each subscriber of the
    /// source then gets one of them (``Subscription/layers``), chosen by ``selectLayers(now:)``;
    /// no rendition is ever started for it.
    private(set) var layers: [SimulcastLayer]
    /// The publisher's RID extension id, with ``layers``.
    let ridExtensionID: UInt8?
    /// Which layer each video SSRC carries, learnt from the RID extension (at most one SSRC per layer).
    private var layerOfSSRC: [UInt32: Int] = [:]
    /// When its latest packet arrived: the time layers are chosen by outside the packet path.
    private var lastArrival: MediaTime = .zero
    /// The publisher's video payload type, and that of its RTX stream when it negotiated one.
    let videoPayloadType: UInt8?
    let rtxPayloadType: UInt8?
    /// The publisher's `repaired-rtp-stream-id` id, with ``layers`` and RTX.
    let repairedRIDExtensionID: UInt8?
    /// Which layer each RTX SSRC repairs, learnt from the repaired-RID extension (one per layer).
    private var layerOfRTXSSRC: [UInt32: Int] = [:]
    /// What the publisher's video (not simulcast) lost on the way, asked for again; for the
    /// stream of ``missingSSRC`` (another SSRC starts afresh).
    private var missing = NACKGenerator()
    private var missingSSRC: UInt32?

    /// Shortest interval between two PLIs to one publisher.
    static let keyFrameRequestInterval = MediaTime(microseconds: 300_000)
    /// The most a publisher is told it may send (REMB), bits/s.
    static let maximumPublisherBitrate = 8_000_000.0
    /// The SSRC the relay's own RTCP comes from.
    static let relaySSRC: UInt32 = 0x5EED_0001

    init(peer: PeerSession, exclusive: Bool) {
        origin = .publisher(peer)
        id = peer.id
        room = peer.room
        kinds = peer.media.map(\.kind)
        self.exclusive = exclusive
        captureTimeExtensionIDs = peer.captureTimeExtensionIDs
        transportSequenceExtensionID = NegotiatedMedia.transportSequenceExtensionID(of: peer.media)
        if transportSequenceExtensionID != nil { arrivals = TransportWideFeedbackBuilder() }
        let video = peer.media.first { $0.kind == .video && $0.ridExtensionID != nil }
        layers = (video?.rids ?? []).map(SimulcastLayer.init(rid:))
        ridExtensionID = video?.ridExtensionID
        let anyVideo = video ?? peer.media.first { $0.kind == .video }
        videoPayloadType = anyVideo?.payloadType
        rtxPayloadType = anyVideo?.rtxPayloadType
        repairedRIDExtensionID = video?.repairedRIDExtensionID
    }

    /// A mirror of the publication `description` tells of, fed by a pipe from its worker.
    init(mirroring description: PublicationDescription, upstream: PipeUpstream, token: UInt64) {
        origin = .pipe(upstream, token: token)
        id = description.id
        room = description.room
        kinds = description.kinds
        exclusive = description.exclusive
        captureTimeExtensionIDs = description.captureTimeExtensionIDs
        transportSequenceExtensionID = nil  // the origin's worker gives the publisher its feedback
        layers = description.rids.map(SimulcastLayer.init(rid:))
        ridExtensionID = description.ridExtensionID
        // The origin NACKs the publisher and decapsulates its RTX; a mirror gets the packets.
        videoPayloadType = nil
        rtxPayloadType = nil
        repairedRIDExtensionID = nil
    }

    /// What another worker needs to mirror it.
    var description: PublicationDescription {
        PublicationDescription(
            id: id, room: room, kinds: kinds, captureTimeExtensionIDs: captureTimeExtensionIDs, exclusive: exclusive, rids: layers.map(\.rid),
            ridExtensionID: ridExtensionID)
    }

    /// This mirror's token, if it is one.
    var mirrorToken: UInt64? { if case .pipe(_, let token) = origin { token } else { nil } }

    /// The abs-capture-time id renditions read from its packets (its video's; BUNDLE keeps one id per URI).
    var captureTimeExtensionID: UInt8? { captureTimeExtensionIDs.video ?? captureTimeExtensionIDs.audio }

    /// Every subscriber, of the source and of each rendition.
    var allSubscribers: [Subscription] { subscribers + renditions.values.flatMap(\.subscribers) }

    // MARK: Subscribers

    /// Adds `s` to the source's subscribers or to its rendition's, starting the rendition with
    /// `makeRendition` if none runs for `s.quality` yet.
    func subscribe(_ s: Subscription, makeRendition: (Quality) throws(RelayError) -> Rendition) throws(RelayError) {
        if isSimulcast {
            // Every quality is a layer of what the publisher sends: nothing to transcode.
            subscribers.append(s)
            s.layers = LayerSelection(target: layers.layer(for: s.quality, now: lastArrival))
        } else if s.quality == .source {
            subscribers.append(s)
        } else {
            let rendition: Rendition
            if let running = renditions[s.quality] {
                rendition = running
            } else {
                rendition = try makeRendition(s.quality)
                renditions[s.quality] = rendition
            }
            rendition.subscribers.append(s)
        }
        s.publication = self
        s.source = id
    }

    /// Takes `s` off its stream; a rendition left without subscribers is stopped.
    func unsubscribe(_ s: Subscription) {
        subscribers.removeAll { $0 === s }
        s.layers = LayerSelection()
        if let rendition = renditions[s.quality] {
            rendition.subscribers.removeAll { $0 === s }
            if rendition.subscribers.isEmpty {
                rendition.encoder.stop()
                renditions[s.quality] = nil
            }
        }
        if s.publication === self { s.publication = nil }
    }

    /// The publisher has gone: renditions stop, and the subscribers it had are returned (a
    /// broadcast's follow its next publisher).
    func end() -> [Subscription] {
        for pipe in pipes { pipe.end() }
        pipes = []
        let left = allSubscribers
        for rendition in renditions.values { rendition.encoder.stop() }
        renditions = [:]
        subscribers = []
        for s in left { s.publication = nil }
        return left
    }

    // MARK: The packet path

    /// One of the publisher's RTP packets (decrypted in `packet`): counted, cached for NACKs,
    /// fanned out; the PLI a subscriber was owed goes with the first video packet; a gap it shows
    /// in the publisher's video is NACKed at once (``NACKGenerator``), and an older packet goes
    /// on only when it fills such a gap. `owned`: the packet is already a buffer of its own,
    /// right-sized (a piped packet, copied once at the origin), and is kept as it is instead of
    /// copied again. `repaired`: it came out of an RTX packet (``receiveRetransmission(_:header:now:allocator:drops:)``),
    /// which goes on only when it fills a gap.
    func receive(
        _ packet: ByteBuffer, header: RTPHeaderView, kind: MediaKind, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter,
        owned: Bool = false, layer pipedLayer: Int? = nil, repaired: Bool = false
    ) -> [OutgoingDatagram] {
        lastArrival = now
        var firstOfKind = ssrc[kind] == nil
        var layer: Int?
        var temporal: (layer: UInt8, layerSync: Bool, startOfFrame: Bool)?  // a simulcast layer's VP8 temporal layer
        if kind == .video, isSimulcast {
            // A mirror takes the layer its origin found (the RID may no longer be in the packet).
            guard let l = mirrorToken != nil ? pipedLayer.flatMap({ layers.indices.contains($0) ? $0 : nil }) : layerIndex(of: header.ssrc, in: packet) else {
                drops.count("simulcast-unknown-stream")
                return []
            }
            layer = l
            temporal = packet.withUnsafeReadableBytes { raw in
                header.headerLength < raw.count
                    ? VP8PayloadDescriptor.temporalLayer(ofPayload: UnsafeRawBufferPointer(rebasing: raw[header.headerLength...])) : nil
            }
        }
        if !repaired, let id = transportSequenceExtensionID,
            let n = packet.withUnsafeReadableBytes({ TransportSequenceNumber.read(inPacket: $0, id: id) })
        {
            arrivals?.record(n, at: now)
        }
        // The uplink's losses: asked for at once; what fills a gap goes on, anything else older
        // (an RTX packet not asked for — a publisher probing its path with old packets) stops here.
        var nack: OutgoingDatagram?
        if kind == .video, let peer {
            if layer == nil, missingSSRC != header.ssrc {
                missing = NACKGenerator()
                missingSSRC = header.ssrc
            }
            let seq = header.sequenceNumber
            let arrival: NACKGenerator.Arrival
            if let layer {
                arrival = repaired ? layers[layer].missing.repaired(seq) : layers[layer].missing.received(seq, now: now)
            } else {
                arrival = repaired ? missing.repaired(seq) : missing.received(seq, now: now)
            }
            switch arrival {
            case .new(let lost):
                if !lost.isEmpty {
                    peer.stats.upstreamNACKed += lost.count
                    nack = self.nack(lost, ssrc: header.ssrc)
                }
            case .recovered:
                peer.stats.recovered += 1
            case .late:
                break
            case .duplicate:
                drops.count(repaired ? "rtx-unrequested" : "rtp-duplicate")
                return []
            }
        }
        // A layer's figures, from packets that go on only (a duplicate or an unasked resend
        // neither keeps a stopped layer active nor counts in its rate).
        if let l = layer {
            firstOfKind = layers[l].ssrc == nil
            let started = !layers[l].isActive(now: now)
            if started, layers[l].lastPacket != nil, let peer { peer.stats.layerPauses += 1 }
            layers[l].ssrc = header.ssrc
            layers[l].lastPacket = now
            // A layer that starts (or comes back) is a choice at once: this packet may be its key frame.
            if started {
                let targets = Quality.allCases.map { layers.layer(for: $0, now: now) }
                for s in subscribers { s.layers.aim(at: targets[Quality.allCases.firstIndex(of: s.quality) ?? 0], now: now) }
            }
            layers[l].intervalBytes += packet.readableBytes
            if let t = temporal {
                layers[l].temporalBytes[Int(t.layer & 3)] += packet.readableBytes
                if t.startOfFrame && !repaired { layers[l].temporalFrames[Int(t.layer & 3)] += 1 }
            }
            if let size = Self.keyFrameSize(packet, header: header) {
                (layers[l].width, layers[l].height) = (size.width, size.height)
                layers[l].lastKeyFrame = now
                lastKeyFrame = now
            }
        } else if kind == .video, Self.keyFrameSize(packet, header: header) != nil {
            lastKeyFrame = now
        }
        ssrc[kind] = header.ssrc
        intervalBytes += packet.readableBytes
        // A resent packet is not counted as received in the reports to the publisher: its uplink
        // did lose it (and its old timestamp would read as jitter).
        if !repaired {
            receiveStats[header.ssrc, default: RTPReceiveStatistics(clockRate: kind.clockRate)]
                .record(sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, size: packet.readableBytes, arrival: now)
        }
        if kind == .video || !pipes.isEmpty {
            // The cache and the pipes keep their own right-sized copy (shared, copy-on-write):
            // `packet` is a slice of the 64 KiB vector-read buffer, and holding the slice would
            // keep that whole buffer alive while it is cached.
            var copy = packet
            if !owned {
                copy = allocator.buffer(capacity: packet.readableBytes)
                copy.writeImmutableBuffer(packet)
            }
            if let layer {
                layers[layer].cache.store(copy, sequenceNumber: header.sequenceNumber)
            } else if kind == .video {
                if cache.video == nil { cache.video = RetransmissionCache() }
                cache[kind]?.store(copy, sequenceNumber: header.sequenceNumber)
            }
            for pipe in pipes where !pipe.enqueue(copy, kind: kind, layer: layer) { drops.count("pipe-backlog") }
        }
        let capture = captureTimeExtensionIDs[kind].flatMap { id in packet.withUnsafeReadableBytes { AbsoluteCaptureTime(inPacket: $0, id: id) } }
        var out = fanOut(
            packet, header: header, kind: kind, capture: capture, layer: layer, temporal: temporal, now: now, allocator: allocator, drops: drops)
        if let nack { out.append(nack) }
        if firstOfKind && kind == .video && keyFrameOwed {
            keyFrameOwed = false
            if let pli = requestKeyFrameFromPublisher(now: nil) { out.append(pli) }
        }
        return out
    }

    /// The one fan-out: the packet to every subscriber of the source, rewritten for each — of a
    /// simulcast `layer`, only to those on it, and to those moving to it from its key frame on,
    /// of its `temporal` layer only to those that get that temporal layer (``TemporalLayerSelection``);
    /// to each rendition's encoder when the rendition makes its own packets of this kind, else (a
    /// `medium` rendition's audio) to the rendition's subscribers as it is.
    func fanOut(
        _ packet: ByteBuffer, header: RTPHeaderView, kind: MediaKind, capture: AbsoluteCaptureTime?, layer: Int? = nil,
        temporal: (layer: UInt8, layerSync: Bool, startOfFrame: Bool)? = nil, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter
    ) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        out.reserveCapacity(subscribers.count)
        var keyFrameStart: Bool?  // read once, when a subscriber waits for one
        for s in subscribers {
            if let layer {
                if s.layers.current != layer {
                    guard s.layers.target == layer else { continue }
                    if keyFrameStart == nil { keyFrameStart = Self.keyFrameSize(packet, header: header) != nil }
                    guard keyFrameStart == true else { continue }
                    if let waited = s.layers.switchTo(layer, now: now) {
                        s.peer.stats.layerSwitches += 1
                        s.peer.stats.layerSwitchWaitMicroseconds += max(waited.microseconds, 0)
                    }
                    s.layers.switchedAt = header.sequenceNumber
                    s.temporal.newLayer()
                } else if s.layers.holding {
                    // Held back until the target's key frame (above); a move called off — the target
                    // back to this layer — takes it again at its own key frame: what comes before
                    // refers to pictures the subscriber never got.
                    let calledOff = s.layers.target == nil || s.layers.target == layer
                    if calledOff, keyFrameStart == nil { keyFrameStart = Self.keyFrameSize(packet, header: header) != nil }
                    guard calledOff, keyFrameStart == true else {
                        s.skip(packet, header: header, held: true)
                        continue
                    }
                    s.layers.holding = false
                    s.layers.switchedAt = header.sequenceNumber
                    s.resumeAfterHold()
                    s.temporal.newLayer()
                } else if let first = s.layers.switchedAt {
                    let since = Int16(bitPattern: header.sequenceNumber &- first)
                    if since < 0 { continue }
                    // Far enough on that no packet from before can come (half the 16-bit space later
                    // the comparison would turn, and the layer's packets read as older).
                    if since > Int16(StreamRewriter.horizon) { s.layers.switchedAt = nil }
                }
                if let t = temporal {
                    var key = false
                    if t.startOfFrame, s.temporal.current != s.temporal.target {
                        if keyFrameStart == nil { keyFrameStart = Self.keyFrameSize(packet, header: header) != nil }
                        key = keyFrameStart == true
                    }
                    guard
                        s.temporal.admits(
                            temporalLayer: t.layer, layerSync: t.layerSync, startOfFrame: t.startOfFrame, keyFrame: key,
                            sequenceNumber: header.sequenceNumber)
                    else {
                        s.skip(packet, header: header)
                        continue
                    }
                }
            }
            if kind == .video, s.pendingKeyFrame.isPending {
                if keyFrameStart == nil { keyFrameStart = Self.keyFrameSize(packet, header: header) != nil }
                if keyFrameStart == true { s.pendingKeyFrame.received() }
            }
            if let o = s.send(packet, header: header, kind: kind, capture: capture, now: now, allocator: allocator, drops: drops) { out.append(o) }
        }
        guard !renditions.isEmpty else { return out }
        var parsed: RTPPacket??  // parsed once, for the renditions that transcode it
        for rendition in renditions.values {
            if rendition.produces(kind) {
                if parsed == nil { parsed = .some(try? RTPPacket(parsing: Array(packet.readableBytesView))) }
                if let p = parsed ?? nil, !rendition.encoder.feed(p, kind: kind, arrival: now) { drops.count("transcode-backlog") }
            } else {
                for s in rendition.subscribers {
                    if let o = s.send(packet, header: header, kind: kind, capture: capture, now: now, allocator: allocator, drops: drops) {
                        out.append(o)
                    }
                }
            }
        }
        return out
    }

    /// What a rendition's codecs produced: its packets to its subscribers (and its cache); its
    /// key-frame request and NACKs to the publisher.
    func deliver(_ output: RenditionOutput, from quality: Quality, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter)
        -> [OutgoingDatagram]
    {
        guard let rendition = renditions[quality] else { return [] }
        var out: [OutgoingDatagram] = []
        if output.requestKeyFrame, let pli = requestKeyFrameFromPublisher(now: now) { out.append(pli) }
        if !output.videoNACKs.isEmpty, let nack = nack(output.videoNACKs, kind: .video) { out.append(nack) }
        for (kind, packets) in [(MediaKind.video, output.video), (.audio, output.audio)] {
            for packet in packets {
                let buffer = ByteBuffer(bytes: packet.serialized())
                guard let header = buffer.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else { continue }
                let capture = rendition.encoder.captureTimeExtensionID.flatMap { AbsoluteCaptureTime(in: packet.header, id: $0) }
                rendition.cache[kind].store(buffer, sequenceNumber: header.sequenceNumber)
                for s in rendition.subscribers {
                    if let o = s.send(buffer, header: header, kind: kind, capture: capture, now: now, allocator: allocator, drops: drops) {
                        out.append(o)
                    }
                }
            }
        }
        return out
    }

    // MARK: The rules

    /// Where a subscriber's key-frame request goes (a PLI or FIR it sent, its connecting, its
    /// move to another rendition): a rendition's subscriber's to that rendition's encoder; a
    /// source subscriber's to the publisher as a PLI, at most once per ``keyFrameRequestInterval``
    /// unless `now` is nil (a new subscriber needs one at once). Returns the PLI to send, if any.
    func requestKeyFrame(for quality: Quality, now: MediaTime?) -> OutgoingDatagram? {
        if isSimulcast, let layer = layers.layer(for: quality, now: lastArrival) { return requestKeyFrame(layer: layer, now: now) }
        if quality != .source, let rendition = renditions[quality] {
            rendition.encoder.requestKeyFrame()
            return nil
        }
        return requestKeyFrameFromPublisher(now: now)
    }

    /// Where the packet a subscriber of `quality` NACKs for `kind` is found, with the capture-time
    /// id it was stored under: the rendition's own cache when the rendition made it, else the
    /// source's (nil when the source does not keep that kind).
    func retransmissionSource(kind: MediaKind, quality: Quality) -> (cache: RetransmissionCache, captureTimeExtensionID: UInt8?)? {
        if kind == .video, isSimulcast { return nil }  // per layer: ``retransmissionSource(for:kind:)``
        if quality != .source, let rendition = renditions[quality], rendition.produces(kind) {
            return (rendition.cache[kind], rendition.encoder.captureTimeExtensionID)
        }
        return cache[kind].map { ($0, captureTimeExtensionIDs[kind]) }
    }

    /// A PLI to the publisher ([RFC 4585 §6.3.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1)),
    /// throttled as ``requestKeyFrame(for:now:)`` says; owed until its video SSRC is known.
    func requestKeyFrameFromPublisher(now: MediaTime?) -> OutgoingDatagram? {
        guard let peer else {
            // A mirror: the origin's worker asks the publisher (and throttles it there too).
            if let now, let last = lastKeyFrameRequest, now - last < Self.keyFrameRequestInterval { return nil }
            if let now { markKeyFrameRequested(layer: nil, now: now) }
            if case .pipe(let upstream, _) = origin { upstream.requestKeyFrame(nil) }
            return nil
        }
        // A simulcast publisher is asked for a key frame of every layer it sends.
        let videoSSRCs = isSimulcast ? layers.compactMap(\.ssrc) : ssrc.video.map { [$0] } ?? []
        guard peer.isConnected, !videoSSRCs.isEmpty else {
            keyFrameOwed = true
            return nil
        }
        if let now, let last = lastKeyFrameRequest, now - last < Self.keyFrameRequestInterval { return nil }
        if let now { markKeyFrameRequested(layer: nil, now: now) }
        let pli = peer.rtcp(
            [.receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC))]
                + videoSSRCs.map { .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: Self.relaySSRC, mediaSSRC: $0)) })
        if pli != nil { peer.stats.keyFrameRequests += 1 }
        return pli
    }

    /// A generic NACK to the publisher for packets a rendition's decoder misses
    /// ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)).
    func nack(_ lost: [UInt16], kind: MediaKind) -> OutgoingDatagram? {
        guard peer != nil else {
            if case .pipe(let upstream, _) = origin { upstream.nack(lost, kind) }
            return nil
        }
        guard let mediaSSRC = ssrc[kind] else { return nil }
        return nack(lost, ssrc: mediaSSRC)
    }

    /// A generic NACK to the publisher for packets of its stream `ssrc`
    /// ([RFC 4585 §6.2.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.2.1)).
    private func nack(_ lost: [UInt16], ssrc mediaSSRC: UInt32) -> OutgoingDatagram? {
        guard let peer, peer.isConnected else { return nil }
        peer.stats.nacksOut += 1
        return peer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC)),
            .nack(RTCPGenericNACK(senderSSRC: Self.relaySSRC, mediaSSRC: mediaSSRC, lost: lost)),
        ])
    }

    /// One of the publisher's RTX packets ([RFC 4588 §4](https://www.rfc-editor.org/rfc/rfc4588#section-4)):
    /// its arrival is reported in transport-wide feedback; the packet it carries — the repaired
    /// stream's SSRC and payload type, the original sequence number from the payload's first two
    /// bytes, the rest of the payload — goes through ``receive(_:header:kind:now:allocator:drops:owned:layer:repaired:)``
    /// and on only when the relay asked for it. Padding only (a publisher probing its path), an
    /// RTX stream the offer does not explain, or one for a stream not seen yet, stops here.
    func receiveRetransmission(_ packet: ByteBuffer, header: RTPHeaderView, now: MediaTime, allocator: ByteBufferAllocator, drops: DropCounter)
        -> [OutgoingDatagram]
    {
        lastArrival = now
        if let id = transportSequenceExtensionID, let n = packet.withUnsafeReadableBytes({ TransportSequenceNumber.read(inPacket: $0, id: id) }) {
            arrivals?.record(n, at: now)
        }
        guard peer != nil, let videoPayloadType else { return [] }
        let repairedSSRC = isSimulcast ? repairedLayer(of: header.ssrc, in: packet).flatMap { layers[$0].ssrc } : ssrc.video
        guard let repairedSSRC else {
            drops.count("rtx-unknown-stream")
            return []
        }
        let bytes = packet.readableBytesView
        var end = bytes.count
        if header.hasPadding {
            // The last byte counts the padding, itself included (RFC 3550 §5.1).
            let padding = Int(bytes[bytes.index(bytes.startIndex, offsetBy: end - 1)])
            guard padding >= 1, padding <= end - header.headerLength else {
                drops.count("rtx-malformed")
                return []
            }
            end -= padding
        }
        // The original sequence number and at least one byte of payload.
        guard end - header.headerLength >= 3 else {
            drops.count("rtx-padding")
            return []
        }
        let start = bytes.startIndex
        let original = UInt16(bytes[start + header.headerLength]) << 8 | UInt16(bytes[start + header.headerLength + 1])
        var rebuilt = allocator.buffer(capacity: end - 2)
        rebuilt.writeBytes(bytes[start..<(start + header.headerLength)])
        rebuilt.writeBytes(bytes[(start + header.headerLength + 2)..<(start + end)])
        rebuilt.setInteger(bytes[start] & ~0x20, at: 0)  // no padding now
        rebuilt.setInteger(bytes[start + 1] & 0x80 | videoPayloadType & 0x7F, at: 1)
        rebuilt.setInteger(original, at: 2)
        rebuilt.setInteger(repairedSSRC, at: 8)
        guard let repairedHeader = rebuilt.withUnsafeReadableBytes({ try? RTPHeaderView($0) }) else {
            drops.count("rtx-malformed")
            return []
        }
        return receive(rebuilt, header: repairedHeader, kind: .video, now: now, allocator: allocator, drops: drops, owned: true, repaired: true)
    }

    /// Every ``RelayState/transportFeedbackInterval``: what the publisher's video still misses,
    /// NACKed again (once per ``NACKGenerator/retryInterval``, given up after
    /// ``NACKGenerator/maximumTries`` or ``NACKGenerator/maximumAge``).
    func nackAgain(now: MediaTime) -> [OutgoingDatagram] {
        guard let peer, peer.isConnected else { return [] }
        var out: [OutgoingDatagram] = []
        if isSimulcast {
            for i in layers.indices {
                guard let ssrc = layers[i].ssrc else { continue }
                let due = layers[i].missing.due(now: now, retryInterval: NACKGenerator.retryInterval)
                if !due.isEmpty, let o = nack(due, ssrc: ssrc) { out.append(o) }
            }
        } else if let ssrc = missingSSRC {
            let due = missing.due(now: now, retryInterval: NACKGenerator.retryInterval)
            if !due.isEmpty, let o = nack(due, ssrc: ssrc) { out.append(o) }
        }
        return out
    }

    // MARK: RTCP with the publisher

    /// The publisher's RTCP: its sender reports time its streams (for the round trip its receiver
    /// reports let it compute).
    func receiveRTCP(_ packets: [RTCPPacket], now: MediaTime) {
        for case .senderReport(let sr) in packets {
            receiveStats[sr.ssrc]?.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, arrival: now)
        }
    }

    /// Its periodic RTCP (a mirror's: none, only the rate measured): a receiver report with a block
    /// per incoming stream, and a REMB with the bitrate it may send — for a publisher without
    /// transport-wide feedback, room above what arrives while loss is low and less than it when
    /// loss is high (a loss-based estimate); for one with it, the relay's ceiling only.
    func report(now: MediaTime, intervalSeconds: Double) -> OutgoingDatagram? {
        var blocks: [RTCPReportBlock] = []
        for ssrc in receiveStats.keys.sorted() {
            if let block = receiveStats[ssrc]?.reportBlock(ssrc: ssrc, now: now) { blocks.append(block) }
        }
        guard !blocks.isEmpty else { return nil }
        let rate = Double(intervalBytes * 8) / max(intervalSeconds, 0.001)
        intervalBytes = 0
        incomingBitrate = rate
        for i in layers.indices { layers[i].measure(intervalSeconds: intervalSeconds) }
        let loss = blocks.map { Double($0.fractionLost) / 256 }.max() ?? 0
        // A publisher with transport-wide feedback runs its own send-side estimate (as against a
        // browser, which sends no REMB then): the REMB is only the relay's ceiling.
        let estimate = transportSequenceExtensionID != nil ? Self.maximumPublisherBitrate : loss > 0.1 ? rate * 0.85 : max(rate * 1.5, 500_000)
        // A mirror only measures (its subscribers' adaptation reads the rate); the origin reports.
        guard let peer else { return nil }
        return peer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC, reports: blocks)),
            .remb(RTCPREMB(senderSSRC: Self.relaySSRC, bitrate: UInt64(min(estimate, Self.maximumPublisherBitrate)), ssrcs: blocks.map(\.ssrc))),
        ])
    }
}

// MARK: Transport-wide feedback

extension Publication {
    /// Transport-wide feedback on what arrived from the publisher since the last
    /// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-3.1)),
    /// every ``RelayState/transportFeedbackInterval``: up to three feedback packets (1,500
    /// numbers) in one compound, after an empty receiver report. Nil when it did not negotiate it,
    /// nothing arrived, or it is not connected.
    func transportFeedback() -> OutgoingDatagram? {
        guard let peer, arrivals?.hasPending == true else { return nil }
        var packets: [RTCPPacket] = [.receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC))]
        for _ in 0..<3 {
            guard let fb = arrivals?.feedback(senderSSRC: Self.relaySSRC, mediaSSRC: ssrc.video ?? ssrc.audio ?? 0) else { break }
            packets.append(.transportFeedback(fb))
        }
        guard packets.count > 1 else { return nil }
        return peer.rtcp(packets)
    }
}

// MARK: Pipes

extension Publication {
    /// Starts piping to another worker's mirror (one pipe per worker; the far worker sends its
    /// attaches and detaches from its own loop, so the last to arrive is its newest mirror's).
    func attach(_ pipe: PipeOut) {
        pipes.removeAll { $0.worker == pipe.worker }
        pipes.append(pipe)
    }

    /// Stops piping to `worker`'s mirror if `token` still names it; true if a pipe went.
    @discardableResult
    func detach(worker: Int, token: UInt64) -> Bool {
        guard let i = pipes.firstIndex(where: { $0.worker == worker && $0.token == token }) else { return false }
        pipes.remove(at: i)
        return true
    }

    /// Sends what each pipe queued this loop turn; returns the packets sent, and those dropped
    /// because a far end is too far behind.
    func flushPipes() -> (sent: Int, dropped: Int) {
        pipes.reduce((0, 0)) { total, pipe in
            let f = pipe.flush()
            return (total.0 + f.sent, total.1 + f.dropped)
        }
    }
}

// MARK: Simulcast

extension Publication {
    /// Whether its video comes as simulcast layers.
    var isSimulcast: Bool { !layers.isEmpty }

    /// The layer a video packet belongs to: by its SSRC once known, else by the RID it carries
    /// (which ties the SSRC to that layer). Nil for a packet of neither — an SSRC the offer's
    /// encodings do not explain, or a second SSRC claiming a layer that has one.
    private func layerIndex(of ssrc: UInt32, in packet: ByteBuffer) -> Int? {
        if let known = layerOfSSRC[ssrc] { return known }
        guard layerOfRTXSSRC[ssrc] == nil, let id = ridExtensionID, let rid = packet.withUnsafeReadableBytes({ RTPStreamID.read(inPacket: $0, id: id) }),
            let i = layers.firstIndex(where: { $0.rid == rid }), layers[i].ssrc == nil
        else { return nil }
        layerOfSSRC[ssrc] = i
        return i
    }

    /// The layer an RTX packet repairs: by its SSRC once known, else by the repaired RID it
    /// carries (which ties the SSRC to that layer, one RTX SSRC per layer).
    private func repairedLayer(of ssrc: UInt32, in packet: ByteBuffer) -> Int? {
        if let known = layerOfRTXSSRC[ssrc] { return known }
        guard layerOfSSRC[ssrc] == nil, let id = repairedRIDExtensionID,
            let rid = packet.withUnsafeReadableBytes({ RTPStreamID.read(inPacket: $0, id: id) }),
            let i = layers.firstIndex(where: { $0.rid == rid }), !layerOfRTXSSRC.values.contains(i)
        else { return nil }
        layerOfRTXSSRC[ssrc] = i
        return i
    }

    /// The picture size a VP8 packet declares when it starts a key frame
    /// ([RFC 7741 §4.3](https://www.rfc-editor.org/rfc/rfc7741#section-4.3), RFC 6386 §9.1); nil
    /// for any other packet.
    static func keyFrameSize(_ packet: ByteBuffer, header: RTPHeaderView) -> (width: Int, height: Int)? {
        let payload = packet.readableBytesView.dropFirst(header.headerLength)
        // S = 1 and partition 0: the first packet of a frame; only then is the descriptor parsed.
        guard let first = payload.first, first & 0x10 != 0, first & 0x07 == 0 else { return nil }
        let head = Array(payload.prefix(16))
        guard let (_, length) = try? VP8PayloadDescriptor.parse(head[...]), let key = VP8KeyFrameHeader(parsing: head[length...]) else { return nil }
        return (key.width, key.height)
    }

    /// A PLI for one layer, at most once per ``keyFrameRequestInterval`` for the whole publication
    /// unless `now` is nil — libwebrtc's simulcast encoder answers a PLI for any layer with a key
    /// frame of every layer, so a second PLI soon after buys nothing but another round of them
    /// (and a low layer pays for each by skipping frames); a mirror asks its origin, which asks
    /// for the same layer.
    func requestKeyFrame(layer i: Int, now: MediaTime?) -> OutgoingDatagram? {
        guard layers.indices.contains(i) else { return requestKeyFrameFromPublisher(now: now) }
        guard let peer else {
            // A mirror: the origin asks for that layer's (throttled there as well).
            if let now, let last = lastKeyFrameRequest, now - last < Self.keyFrameRequestInterval { return nil }
            if let now { markKeyFrameRequested(layer: i, now: now) }
            if case .pipe(let upstream, _) = origin { upstream.requestKeyFrame(i) }
            return nil
        }
        guard peer.isConnected, let ssrc = layers[i].ssrc else {
            keyFrameOwed = true
            return nil
        }
        if let now, let last = lastKeyFrameRequest, now - last < Self.keyFrameRequestInterval { return nil }
        if let now { markKeyFrameRequested(layer: i, now: now) }
        let pli = peer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: Self.relaySSRC)),
            .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: Self.relaySSRC, mediaSSRC: ssrc)),
        ])
        if pli != nil { peer.stats.keyFrameRequests += 1 }
        return pli
    }

    /// A PLI to the publisher went (or its origin was asked) at `now`: for `layer`, or for every
    /// layer when nil.
    private func markKeyFrameRequested(layer: Int?, now: MediaTime) {
        lastKeyFrameRequest = now
        for i in layers.indices where layer == nil || layer == i { layers[i].lastKeyFrameRequest = now }
    }

    /// A PLI or FIR a subscriber sent: a rendition's subscriber's goes to its encoder at once; a
    /// subscriber of the source (or of a simulcast layer) waits for its key frame
    /// (``Subscription/pendingKeyFrame``), asked for as ``passOnKeyFrameRequest(of:now:)`` says.
    func keyFrameRequested(by s: Subscription, now: MediaTime) -> OutgoingDatagram? {
        if !isSimulcast, s.quality != .source, renditions[s.quality] != nil { return requestKeyFrame(for: s, now: now) }
        s.pendingKeyFrame.ask(now: now)
        return passOnKeyFrameRequest(of: s, now: now)
    }

    /// A subscriber's waiting key-frame request goes to the publisher when its own quota allows
    /// (``PendingKeyFrame/interval``) and no key frame of its stream is on its way already (one
    /// asked for less than that interval ago and not come yet serves it too); the publication's
    /// throttle may still hold it back, and then it goes with a later tick.
    func passOnKeyFrameRequest(of s: Subscription, now: MediaTime) -> OutgoingDatagram? {
        guard s.pendingKeyFrame.mayPassOn(now: now) else { return nil }
        if let asked = keyFrameOnItsWay(for: s, now: now) {
            s.pendingKeyFrame.passed(at: asked)
            return nil
        }
        let pli = requestKeyFrame(for: s, now: now)
        if pli != nil { peer?.stats.keyFrameRequestsPassedOn += 1 }
        // A mirror asks its origin and sends nothing itself.
        if pli != nil || keyFrameOnItsWay(for: s, now: now) != nil { s.pendingKeyFrame.passed(at: now) }
        return pli
    }

    /// Every ``RelayState/transportFeedbackInterval``: the subscribers' waiting key-frame
    /// requests that may go now.
    func passOnKeyFrameRequests(now: MediaTime) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        for s in subscribers where s.pendingKeyFrame.mayPassOn(now: now) {
            if let pli = passOnKeyFrameRequest(of: s, now: now) { out.append(pli) }
        }
        return out
    }

    /// When a key frame of the stream `s` gets (its target layer, else its layer, else the
    /// video) was asked for, if that was less than ``PendingKeyFrame/interval`` ago and none has
    /// arrived since: it is on its way.
    private func keyFrameOnItsWay(for s: Subscription, now: MediaTime) -> MediaTime? {
        var asked = lastKeyFrameRequest
        var arrived = lastKeyFrame
        if isSimulcast, let l = s.layers.target ?? s.layers.current, layers.indices.contains(l) {
            (asked, arrived) = (layers[l].lastKeyFrameRequest, layers[l].lastKeyFrame)
        }
        guard let asked, now - asked < PendingKeyFrame.interval, arrived.map({ $0 < asked }) ?? true else { return nil }
        return asked
    }

    /// Where a subscriber's key-frame request goes: for a simulcast publication, the layer it is
    /// moving to or on; otherwise as ``requestKeyFrame(for:now:)`` says for its quality.
    func requestKeyFrame(for s: Subscription, now: MediaTime?) -> OutgoingDatagram? {
        if isSimulcast, let layer = s.layers.target ?? s.layers.current { return requestKeyFrame(layer: layer, now: now) }
        return requestKeyFrame(for: s.quality, now: now)
    }

    /// The cache of the stream `ssrc` (a simulcast layer's, or the source's) — where a packet sent
    /// before a subscriber moved to another stream is found (``StreamRewriter/earlier(_:)``).
    func retransmissionCache(forSSRC ssrc: UInt32, kind: MediaKind) -> RetransmissionCache? {
        if kind == .video, let layer = layers.firstIndex(where: { $0.ssrc == ssrc }) { return layers[layer].cache }
        return self.ssrc[kind] == ssrc ? cache[kind] : nil
    }

    /// Where a packet a subscriber NACKs is found: the cache of the layer it is on, for simulcast
    /// video; otherwise ``retransmissionSource(kind:quality:)``.
    func retransmissionSource(for s: Subscription, kind: MediaKind) -> (cache: RetransmissionCache, captureTimeExtensionID: UInt8?)? {
        if kind == .video, isSimulcast {
            guard let layer = s.layers.current else { return nil }
            return (layers[layer].cache, captureTimeExtensionIDs.video)
        }
        return retransmissionSource(kind: kind, quality: s.quality)
    }

    /// Points a subscriber at the layer its quality now calls for (a move by adaptation or on
    /// request); it switches at that layer's next key frame, asked for here.
    func retarget(_ s: Subscription, now: MediaTime?) -> OutgoingDatagram? {
        s.layers.aim(at: layers.layer(for: s.quality, now: lastArrival), now: now ?? lastArrival)
        guard let target = s.layers.target, target != s.layers.current else { return nil }
        // Throttled with the rest (many viewers may move at once); one not sent now goes with the
        // next tick's ``selectLayers(now:)``.
        let pli = requestKeyFrame(layer: target, now: now ?? lastArrival)
        if pli != nil { s.layers.requested = (target, now ?? lastArrival) }
        return pli
    }

    /// Every ``RelayState/transportFeedbackInterval``: each subscriber's target follows the layers
    /// that are active (a layer the publisher stopped is left at once, one that came back is
    /// taken again), and one still waiting for its target's key frame asks again (throttled).
    func selectLayers(now: MediaTime) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        // Once per quality, not per subscriber (a broadcast may have thousands).
        let targets = Quality.allCases.map { layers.layer(for: $0, now: now) }
        for s in subscribers {
            s.layers.aim(at: targets[Quality.allCases.firstIndex(of: s.quality) ?? 0], now: now)
            guard let target = s.layers.target, target != s.layers.current else { continue }
            // A new target is asked for at once; one already asked for, again after a second
            // (each PLI costs a key frame of every layer).
            if s.layers.requested.map({ $0.layer != target || now - $0.at >= Self.keyFrameReRequestInterval }) ?? true,
                let pli = requestKeyFrame(layer: target, now: now)
            {
                s.layers.requested = (target, now)
                out.append(pli)
            }
        }
        return out
    }

    /// How long a subscriber waits for its target layer's key frame before asking again: a
    /// publisher short of CPU takes a while to make one, and asking again sooner only makes it
    /// key every layer once more.
    static let keyFrameReRequestInterval = MediaTime(microseconds: 2_000_000)

    /// What the layer a subscriber receives measures up to each of its temporal layers (bits/s,
    /// ``SimulcastLayer/temporalBitrates``; empty when it is not on a layer or the layer has none),
    /// and the lowest temporal layer that still gives `minimumFrameRate` frames a second (the top
    /// one when none does: a layer its publisher already sends at a few frames a second is not
    /// thinned further).
    func temporalRates(for s: Subscription, minimumFrameRate: Double) -> (bitrates: [Double], lowest: UInt8) {
        guard let layer = s.layers.current, layers.indices.contains(layer) else { return ([], 0) }
        let l = layers[layer]
        let lowest = l.temporalFrameRates.firstIndex { $0 >= minimumFrameRate } ?? max(l.temporalBitrates.count - 1, 0)
        return (l.temporalBitrates, UInt8(min(lowest, 3)))
    }

    /// Whether a subscriber moving down to another simulcast layer should have its current layer
    /// held back until the target's key frame (``LayerSelection/holding``): the path delivers
    /// less than two thirds (``holdMargin``) of even the current layer's lowest temporal layers it
    /// may be thinned to (or, with no temporal layers measured, the whole layer) — its queue then
    /// grows by half a second every second, and most of what is sent is lost anyway. Closer than
    /// that, the layer goes on until the switch: frames a little late beat no frames.
    func holdsBack(_ s: Subscription, deliveredRate: Double) -> Bool {
        guard isSimulcast, let current = s.layers.current, let target = s.layers.target, target != current, layers.indices.contains(current)
        else { return false }
        let thinned = temporalRates(for: s, minimumFrameRate: TemporalLayerSelection.minimumFrameRate)
        let lowest = thinned.bitrates.indices.contains(Int(thinned.lowest)) ? thinned.bitrates[Int(thinned.lowest)] : layers[current].bitrate
        guard let lowest else { return false }
        return lowest > deliveredRate * Self.holdMargin
    }

    /// How much more than the path delivers a layer must need to be held back (``holdsBack(_:deliveredRate:)``).
    static let holdMargin = 1.5

    /// What a subscriber of a simulcast publication is sent on average, bits/s, as measured: the
    /// rate of the layer it is on over its last few intervals (``SimulcastLayer/averageBitrate``,
    /// all its temporal layers) plus the audio; nil before its first switch, for a publication
    /// that is not simulcast, or before the layer's first reporting interval.
    func layerRate(sentTo s: Subscription) -> Double? {
        guard isSimulcast, let current = s.layers.current, layers.indices.contains(current), let rate = layers[current].averageBitrate
        else { return nil }
        return rate + audioRate
    }

    /// What its audio measures, bits/s: all it sends less its video layers.
    private var audioRate: Double { max((incomingBitrate ?? 0) - layers.reduce(0) { $0 + ($1.bitrate ?? 0) }, 0) }

    /// What a subscriber of `quality` would receive, bits/s, as measured: its layer's rate
    /// (``SimulcastLayer/neededBitrate``: the last interval's or the average, whichever is more)
    /// plus the audio for a simulcast publication; the whole source for `source` otherwise; nil when
    /// not measured (a rendition's, whose nominal rate stands).
    func measuredBitrate(for quality: Quality) -> Double? {
        guard isSimulcast else { return quality == .source ? incomingBitrate : nil }
        guard let layer = layers.layer(for: quality, now: lastArrival), let rate = layers[layer].neededBitrate else { return nil }
        return rate + audioRate
    }
}
