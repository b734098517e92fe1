import MediaPipeline
import MediaWire
import NIOCore

/// A subscriber's RTCP and rendition changes: its receiver reports feed its send statistics and
/// adaptation, its key-frame requests go where ``Publication/keyFrameRequested(by:now:)`` says,
/// and its NACKs are answered from ``Publication/retransmissionSource(for:kind:)`` (or, for a
/// packet sent before its last switch, ``Publication/retransmissionCache(forSSRC:kind:)``).
extension RelayState {
    /// One decrypted RTCP compound packet from a subscriber.
    func feedback(_ packets: [RTCPPacket], from s: Subscription, now: MediaTime) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        var nackEntriesLeft = Self.maximumNACKEntries
        for p in packets {
            var blocks: [RTCPReportBlock] = []
            if case .receiverReport(let rr) = p { blocks = rr.reports }
            if case .senderReport(let sr) = p { blocks = sr.reports }
            for block in blocks {
                guard let kind = s.kind(ofOutgoingSSRC: block.ssrc) else { continue }
                let roundTrip = s.slots[kind]?.stats.receive(block, now: now)
                if kind == .video {
                    s.bandwidth?.receiverReport(cumulativeLost: block.cumulativeLost, highestSequence: block.extendedHighestSequence, now: now)
                    out += adapt(s, to: block, roundTrip: roundTrip, now: now)
                }
            }
            if case .remb(let remb) = p { s.adaptation?.receiverEstimate(Double(remb.bitrate)) }
            switch p {
            case .transportFeedback(let feedback):
                out += transportFeedback(feedback, from: s, now: now)
            case .pictureLossIndication, .fullIntraRequest:
                s.peer.stats.keyFrameRequestsIn += 1
                if let pli = s.publication?.keyFrameRequested(by: s, now: now) { out.append(pli) }
            case .nack(let nack):
                s.peer.stats.nacksIn += 1
                guard let kind = s.kind(ofOutgoingSSRC: nack.mediaSSRC), let source = s.publication?.retransmissionSource(for: s, kind: kind)
                else { continue }
                let entries = nack.entries.prefix(nackEntriesLeft)
                nackEntriesLeft -= entries.count
                if entries.count < nack.entries.count { count("nack-entries-over-limit") }
                for seq in RTCPGenericNACK(senderSSRC: nack.senderSSRC, mediaSSRC: nack.mediaSSRC, entries: Array(entries)).lostSequenceNumbers {
                    s.peer.stats.nackedPackets += 1
                    if let o = answer(seq, kind: kind, to: s, from: source, now: now) { out.append(o) }
                }
            default: break
            }
        }
        return out
    }

    /// Answers one packet a subscriber NACKed: resent from ``Publication/retransmissionSource(for:kind:)``
    /// (or, for a packet sent before its last switch, the old stream's cache), at most once per
    /// round trip (RFC 4585 §3.5.2 leaves the policy to the sender) and only within its
    /// retransmission budget. A subscriber without transport-wide feedback that asks again within
    /// the round trip, or over its budget, has the packet answered again when the round trip is
    /// up, up to ``DeferredNACKs/attempts`` times, each wait twice the last (``DeferredNACKs``): aiortc
    /// NACKs only when it sees a new gap, so its last NACK before its path clears is the last it
    /// sends, and a packet no answer brought stalls it until 512 more have come. `source`: the
    /// subscriber's ``Publication/retransmissionSource(for:kind:)``, looked up once by the caller
    /// for all the packets it answers. `deferred`: this is such an answer, with `left` more after it.
    func answer(
        _ seq: UInt16, kind: MediaKind, to s: Subscription, from source: (cache: RetransmissionCache, captureTimeExtensionID: UInt8?),
        now: MediaTime, deferred: Bool = false, left: Int = 0
    ) -> OutgoingDatagram? {
        guard let slot = s.slots[kind] else { return nil }
        let (cache, captureID) = source
        let interval = MediaTime(microseconds: Int64(max(slot.stats.roundTripTime ?? 100, 20) * 1_000))
        // Of the stream it gets now, or (lost while it moved) of the one before — that only for a
        // subscriber without transport-wide feedback: a browser (they all negotiate it) drops what
        // came before the new stream's key frame and stops asking once that is in, and resending
        // the old layer on a path that just collapsed delays the new one (the first 180p frame
        // 2.3–3.0 s after a cap drop instead of 1.4 s); a receiver that waits for every packet
        // (aiortc) needs it. A packet found is resent only if it is of the stream that number
        // carried: a cache can hold another stream's packet under the same number (the viewer's
        // rendition changed and its new stream's first packet has not reached it yet).
        var found: (packet: ByteBuffer, header: RTPHeaderView, earlier: (sequenceNumber: UInt16, timestampOffset: UInt32)?)?
        if let input = slot.rewriter.original(seq), let p = cache.packet(input),
            let h = p.withUnsafeReadableBytes({ try? RTPHeaderView($0) }), h.ssrc == slot.rewriter.source
        {
            found = (p, h, nil)
        } else if s.sendHistory == nil, let e = slot.rewriter.earlier(seq),
            let c = s.publication?.retransmissionCache(forSSRC: e.source, kind: kind),
            let p = c.packet(e.input), let h = p.withUnsafeReadableBytes({ try? RTPHeaderView($0) }), h.ssrc == e.source,
            kind != .video || slot.pictureIDs.forwardedBefore(h.ssrc)  // its picture IDs as they were, or not at all
        {
            found = (p, h, (seq, e.timestampOffset))
        }
        guard let (original, header, earlier) = found else { return nil }
        // A further answer only while the packet is among the last ``DeferredNACKs/reach`` sent:
        // a receiver that got it already and has moved on further than that (aiortc, 100
        // packets) would take it for a new stream and start over.
        if deferred, let newest = slot.rewriter.newestSent, newest &- seq >= DeferredNACKs.reach {
            s.peer.stats.retransmissionsSkipped += 1
            return nil
        }
        let defer_ = !deferred && s.sendHistory == nil && kind == .video
        if let last = s.slots[kind]?.resent[Int(seq) % 512], last.seq == seq, now - last.at < interval {
            s.peer.stats.retransmissionsSkipped += 1
            if defer_ { deferAnswer(seq, to: s, due: last.at + interval) }
            return nil
        }
        // Another answer after this one (whether the budget lets this one go or not), twice as
        // far on as the last: the queue that lost the earlier ones may take a second to drain. An
        // answer refused above (too soon, too far back, not found) ends the chain.
        if deferred, left > 0 {
            let spacing = MediaTime(microseconds: interval.microseconds << min(DeferredNACKs.attempts - left, 4))
            deferAnswer(seq, to: s, due: now + spacing, left: left - 1)
        }
        guard s.retransmissionBudget.spend(original.readableBytes) else {
            s.peer.stats.retransmissionsSkipped += 1
            s.peer.stats.retransmissionsOverBudget += 1
            if defer_ { deferAnswer(seq, to: s, due: now + interval) }
            return nil
        }
        let capture = captureID.flatMap { id in original.withUnsafeReadableBytes { AbsoluteCaptureTime(inPacket: $0, id: id) } }
        guard
            let o = s.resend(original, header: header, kind: kind, capture: capture, now: now, allocator: allocator, drops: drops, earlier: earlier)
        else { return nil }
        s.slots[kind]?.resent[Int(seq) % 512] = (seq, now)
        s.peer.stats.retransmitted += 1
        if deferred { s.peer.stats.retransmittedAgain += 1 }
        return o
    }

    /// Queues a further answer; when 128 already wait it is not (the packet was counted as
    /// skipped already).
    private func deferAnswer(_ seq: UInt16, to s: Subscription, due: MediaTime, left: Int = DeferredNACKs.attempts - 1) {
        if s.deferredNACKs.add(seq, due: due, left: left) { resendPending.insert(s.peer.id) }
    }

    /// The further answers that are due (from the tick).
    func answerDeferredNACKs(now: MediaTime) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        for id in resendPending {
            guard let s = sessions[id]?.subscription else {
                resendPending.remove(id)
                continue
            }
            let due = s.deferredNACKs.takeDue(now: now)
            if !due.isEmpty, let source = s.publication?.retransmissionSource(for: s, kind: .video) {
                for (seq, left) in due {
                    if let o = answer(seq, kind: .video, to: s, from: source, now: now, deferred: true, left: left) { out.append(o) }
                }
            }
            if s.deferredNACKs.isEmpty { resendPending.remove(id) }
        }
        return out
    }

    /// Feeds a subscriber's video report to its adaptation and carries out a move it decides. While
    /// this worker's loop is saturated (``LoopLoad``) the report is set aside: it describes the
    /// relay, not the subscriber's path. `roundTrip`: the fresh round-trip sample it gave, if any
    /// (``RTPSendStatistics/receive(_:now:)``). The report that echoes a round-trip probe's sender
    /// report is the probe's: its outcome decides, and what it lost and queued (the probe's own
    /// doing, in part) is not read as the path's.
    private func adapt(_ s: Subscription, to block: RTCPReportBlock, roundTrip: Double?, now: MediaTime) -> [OutgoingDatagram] {
        let relayBusy = loopLoad.isSaturated
        if relayBusy, s.adaptation != nil { adaptationHeld += 1 }
        if let probed = roundTripProbeEcho(block, roundTrip: roundTrip, from: s) { return roundTripProbeFinished(probed, for: s, now: now) }
        let q = s.adaptation?.report(
            fractionLost: Double(block.fractionLost) / 256, roundTripMilliseconds: roundTrip, bytesSent: s.peer.stats.bytesOut,
            sourceBitrate: s.publication?.incomingBitrate, measured: measuredRates(of: s), relayBusy: relayBusy, now: now)
        // Receiver reports decide again (transport-wide feedback stopped, or never came): nothing
        // steers its temporal layers, so it gets them all.
        if s.adaptation?.delayBased == false, s.temporal.target != TemporalLayerSelection.all {
            s.temporal.release()
            s.peer.stats.temporalChanges += 1
        }
        guard let q else {
            if !relayBusy, let target = s.adaptation?.takeProbeRequest() { startRoundTripProbe(s, for: target, now: now) }
            return []
        }
        let down = q.rank > s.quality.rank
        let out = adapt(s, to: q, by: "receiver-report")
        // A path that lost more than a third of what it was sent carries less than two thirds of
        // the layer (``Publication/holdMargin``, as ``Publication/holdsBack(_:deliveredRate:)``
        // reads it with transport-wide feedback): the layer is held back until the target's key
        // frame. The queue drains, and no more of the viewer's sequence numbers go on packets it
        // would lose — the answers to its NACKs (``DeferredNACKs``) land while they are within
        // its reach. Without it an aiortc viewer a blind probe had moved up froze 16 s in one
        // browser run of four.
        if down, Double(block.fractionLost) / 256 > 1 - 1 / Publication.holdMargin, s.publication?.isSimulcast == true,
            s.layers.target != nil, s.layers.target != s.layers.current
        {
            s.layers.holding = true
        }
        return out
    }

    /// A subscriber's transport-wide feedback
    /// ([draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1](https://datatracker.ietf.org/doc/html/draft-holmer-rmcat-transport-wide-cc-extensions-01#section-3.1)):
    /// matched against what was sent it (``TransportWideSendHistory``), fed to its send-side
    /// estimate, and the estimate to its adaptation. Feedback from a subscriber that did not
    /// negotiate it, or on packets never sent it, changes nothing.
    func transportFeedback(_ feedback: TransportWideFeedback, from s: Subscription, now: MediaTime) -> [OutgoingDatagram] {
        guard let packets = s.sendHistory?.packets(for: feedback), !packets.isEmpty else { return [] }
        let rtt = MediaTime.milliseconds(min(max(s.slots.video?.stats.roundTripTime ?? 100, 0), 10_000))
        guard let estimate = s.bandwidth?.feedback(packets, rtt: rtt, now: now), let bandwidth = s.bandwidth else { return [] }
        let relayBusy = loopLoad.isSaturated  // held, as reports are (not counted: 10–20 a second)
        // A queue the path drains by itself (a key frame's burst) is not congestion — unless it
        // has stood for ``longestBurst``.
        let signalled = Self.isCongested(bandwidth)
        if !signalled { s.overuseSince = nil }
        var burst = signalled && Self.isBurst(bandwidth, sending: s.layers.holding ? nil : s.publication?.layerRate(sentTo: s), now: now)
        if !signalled { s.burstSince = nil }
        if burst {
            let since = s.burstSince ?? now
            s.burstSince = since
            burst = now - since <= Self.longestBurst
        }
        if burst { s.peer.stats.burstsDrained += 1 }
        // Not a burst: the trend's overuse alone must still have lasted ``overuseHold``.
        let congested =
            signalled && !burst && Self.overuseHasLasted(since: &s.overuseSince, trendOnly: Self.isTrendOnly(bandwidth), now: now)
        logger.trace(
            "transport feedback",
            metadata: [
                "session": .string(s.peer.id), "estimate": .stringConvertible(Int(estimate)), "signal": .string("\(bandwidth.signal)"),
                "acknowledged": .stringConvertible(Int(bandwidth.acknowledged ?? 0)),
                "queue_ms": .stringConvertible(bandwidth.queueingDelay?.milliseconds ?? 0), "congested": .stringConvertible(congested),
            ])
        let measured = measuredRates(of: s), sourceBitrate = s.publication?.incomingBitrate
        // Congested, no more than the path delivers can be counted on (GCC decreases from the
        // acknowledged rate too) — and, with a queue standing at the bottleneck, what it delivered
        // over the newest ``congestedRateSpan`` is its rate: for a feedback or two after a path's
        // capacity falls, the estimate and the half-second acknowledged rate still carry the rate
        // from before, and a move down by them stops on a layer the path cannot carry either.
        // It is the path's rate only while a queue stands at the bottleneck and the relay sends it a
        // simulcast layer: an app-limited sender's delivered rate is just what it sent (bursty video
        // read over 200 ms, noisy), and a held layer's is the audio.
        let queued = (bandwidth.queueingDelay ?? .zero) >= Self.queueForOveruse
        let delivered =
            s.publication?.isSimulcast == true && !s.layers.holding && queued
            ? min(bandwidth.acknowledged ?? .infinity, bandwidth.acknowledged(over: Self.congestedRateSpan) ?? .infinity) : .infinity
        let fitRate = congested ? min(estimate, delivered) : estimate
        // The temporal layers of its simulcast layer answer first: they change within a frame.
        if s.adaptation != nil, !relayBusy, let publication = s.publication, publication.isSimulcast {
            let before = s.temporal.target
            let rates = publication.temporalRates(for: s, minimumFrameRate: TemporalLayerSelection.minimumFrameRate)
            s.temporal.estimate(fitRate, congested: congested, rates: rates.bitrates, lowest: rates.lowest, now: now)
            if s.temporal.target != before {
                s.peer.stats.temporalChanges += 1
                logger.debug(
                    "temporal layer changed",
                    metadata: [
                        "session": .string(s.peer.id), "from": .stringConvertible(before), "to": .stringConvertible(s.temporal.target),
                        "estimate": .stringConvertible(Int(estimate)),
                    ])
            }
        }
        switch s.probe.feedback(packets, now: now) {
        case .rate(let rate):
            s.bandwidth?.probed(rate)
            let up = relayBusy ? nil : s.adaptation?.probed(rate, sourceBitrate: sourceBitrate, measured: measured, now: now)
            s.probe.judged(success: up != nil, now: now)
            logger.debug("probe", metadata: ["session": .string(s.peer.id), "rate": .stringConvertible(Int(rate)), "up": .string(up?.rawValue ?? "no")])
            if let up { return adapt(s, to: up, by: "probe") }
        case .failed:
            s.probe.judged(success: false, now: now)
        case nil: break
        }
        let pending = s.publication?.isSimulcast == true && s.layers.target != nil && s.layers.target != s.layers.current
        if let q = s.adaptation?.transportEstimate(
            fitRate, congested: congested, sourceBitrate: sourceBitrate, measured: measured, relayBusy: relayBusy, switchPending: pending,
            canProbe: s.slots.video?.rtx != nil, now: now)
        {
            let down = q.rank > s.quality.rank
            if down { s.probe.movedDown(now: now) }
            let out = adapt(s, to: q, by: "transport-feedback")
            // Held by what the path delivered, not by the estimate (which may undershoot it).
            if down, congested, delivered.isFinite, let publication = s.publication, publication.holdsBack(s, deliveredRate: delivered) {
                s.layers.holding = true
            }
            return out
        }
        // Below its ceiling with nothing congested: a probe, when one is due, may show room for more.
        guard !relayBusy, s.adaptation?.probeTarget(sourceBitrate: sourceBitrate, measured: measured, now: now) != nil else {
            s.probe.idle()
            return []
        }
        guard s.probe.isDue(now: now), let (cache, captureID) = s.publication?.retransmissionSource(for: s, kind: .video),
            let train = s.probeTrain(from: cache, captureTimeExtensionID: captureID, now: now, allocator: allocator, drops: drops)
        else { return [] }
        s.probe.sent(first: train.first, count: train.count, now: now)
        s.peer.stats.probes += 1
        return train.datagrams
    }

    /// Whether the congestion ``isCongested(_:)`` reads is the delay trend's alone: overusing with
    /// a queue under ``longQueue`` and no lasting loss.
    static func isTrendOnly(_ bandwidth: DelayBasedBandwidthEstimator) -> Bool {
        (bandwidth.queueingDelay ?? .zero) < longQueue && !((bandwidth.lossRatio ?? 0) > 0.1 && bandwidth.lossPersists)
    }

    /// The trend's overuse alone counts once it has been read in feedback after feedback for
    /// ``overuseHold``: on the 2-core CI machine (a 720p encode and four decodes beside the relay)
    /// a viewer's packets were held up 40–80 ms with no cap on its path, the trend read that as
    /// overuse with 26 ms queued, and the viewer left 720p (SimulcastBrowserTests, 2026-12-05:
    /// one run in about twelve). A bottleneck keeps the trend overusing; a long queue or lasting
    /// loss still counts at once. Called for every feedback that reads congestion (`since` then
    /// remembers the first) and is not a burst; `since` is cleared by a feedback that reads no
    /// congestion, or by other congestion.
    static func overuseHasLasted(since: inout MediaTime?, trendOnly: Bool, now: MediaTime) -> Bool {
        guard trendOnly else {
            since = nil
            return true
        }
        let first = since ?? now
        since = first
        return now - first >= overuseHold
    }

    /// How long the trend's overuse alone must last to count (``overuseHasLasted(since:trendOnly:now:)``).
    static let overuseHold = MediaTime(microseconds: 200_000)

    /// Whether a subscriber's transport-wide feedback shows its path congested, for moving it to
    /// another rendition: a queue at the bottleneck that the delay trend says is growing
    /// (overusing with at least ``queueForOveruse`` queued), a long queue whatever the trend
    /// (``longQueue``), or more than 10% lost (its receiver reports) in two loss updates in a row
    /// (``DelayBasedBandwidthEstimator/lossPersists``). Neither the trend alone nor one lossy
    /// report is taken, with a queue or without — on a path with jitter (a packet ± 10 ms) the
    /// trend crosses its threshold now and then with no queue at all, at 2% random loss each way one
    /// report's window of 20-odd packets read 12% (a CI run, 2026-12-04: a Chromium viewer moved
    /// off the source for good), and one read 14% while a 30 ms "queue" showed on that path with
    /// no bottleneck on it (the loaded 2-core CI machine, 2026-12-05: the same test failed). A
    /// rendition change is something a viewer sees; a bottleneck that drops keeps dropping, and is
    /// taken one report later.
    static func isCongested(_ bandwidth: DelayBasedBandwidthEstimator) -> Bool {
        let queue = bandwidth.queueingDelay ?? .zero
        let lossy = (bandwidth.lossRatio ?? 0) > 0.1
        return (bandwidth.signal == .overusing && queue >= queueForOveruse) || queue >= longQueue || (lossy && bandwidth.lossPersists)
    }

    /// What each quality of the publication a subscriber watches measures (a simulcast one's
    /// layers), for its adaptation; empty for one that is not simulcast (renditions have nominal rates).
    func measuredRates(of s: Subscription) -> [Quality: Double] {
        guard let publication = s.publication, publication.isSimulcast else { return [:] }
        var rates: [Quality: Double] = [:]
        for q in Quality.allCases { rates[q] = publication.measuredBitrate(for: q) }
        return rates
    }

    /// Whether the queue at a simulcast viewer's bottleneck is a burst its path drains by itself
    /// rather than congestion: the bottleneck's own rate, read from the packets that left its
    /// queue back to back (``DelayBasedBandwidthEstimator/queuedRate(now:)``), carries what the
    /// viewer is sent on average (`sending`, its layer's measured rate with the audio) with
    /// ``drainMargin``, no more than 10% was lost, and the queue is no longer than
    /// ``longestBurstQueue``. (The caller also ends it once a queue has stood ``longestBurst``:
    /// what is sent may be more than the layer's average — retransmissions, probe trains, a layer
    /// whose rate just rose — and a queue that does not drain is congestion whatever the rate.) A key frame is several times a
    /// delta frame — a 360p one of a detailed picture is 20–30 KB, 160–240 ms at 1 Mbit/s — and
    /// a switch's PLI makes one of every layer at once; read as congestion, each moved a 1 Mbit/s
    /// viewer off a 520 kbit/s layer it could carry, and the move's own key frame made the next
    /// burst (eleven moves in a 50 s browser run). A path whose capacity fell below what is sent
    /// delivers less than that while its queue stands, and stays congested.
    static func isBurst(_ bandwidth: DelayBasedBandwidthEstimator, sending: Double?, now: MediaTime) -> Bool {
        guard let sending, sending > 0, (bandwidth.lossRatio ?? 0) <= 0.1, (bandwidth.queueingDelay ?? .zero) <= longestBurstQueue,
            let rate = bandwidth.queuedRate(now: now)
        else { return false }
        return rate >= sending * drainMargin
    }

    /// How much more than a viewer is sent its path must deliver for a queue to count as a burst
    /// it drains (``isBurst(_:sending:now:)``): at 1.25 a key frame's queue is gone within four times
    /// its own length.
    static let drainMargin = 1.25
    /// The longest queue a burst may make: a 360p key frame of a detailed picture at 1 Mbit/s
    /// makes 160–240 ms; a 500 ms queue (the browser test's netsim) is dropping already.
    static let longestBurstQueue = MediaTime(microseconds: 400_000)
    /// How long feedback may show a queue, with none free of it between, and still be a burst: at
    /// ``drainMargin`` a 240 ms burst is gone within about a second.
    static let longestBurst = MediaTime(microseconds: 2_000_000)

    static let queueForOveruse = MediaTime(microseconds: 25_000)
    /// The newest arrivals a congested subscriber's delivered rate is read over (``transportFeedback(_:from:now:)``).
    static let congestedRateSpan = MediaTime(microseconds: 200_000)
    static let longQueue = MediaTime(microseconds: 150_000)

    /// Carries out a rendition change the adaptation decided (logged with its estimate and what
    /// moved it, `by`); a change that cannot be made ends adaptation for the subscriber.
    func adapt(_ s: Subscription, to q: Quality, by: String) -> [OutgoingDatagram] {
        let from = s.quality
        do {
            let out = try move(s, to: q)
            logger.info(
                "rendition changed",
                metadata: [
                    "session": .string(s.peer.id), "from": .string(from.rawValue), "to": .string(q.rawValue),
                    "estimate": .stringConvertible(Int(s.adaptation?.estimate ?? 0)),
                    "queue_ms": .stringConvertible(s.bandwidth?.queueingDelay?.milliseconds ?? 0),
                    "loss": .stringConvertible(Int((s.bandwidth?.lossRatio ?? 0) * 100)),
                    "signal": .string(s.bandwidth.map { "\($0.signal)" } ?? "none"), "by": .string(by),
                    "reported_loss": .stringConvertible(Int((s.slots.video?.stats.fractionLost ?? 0) * 100)),
                    "rtt_ms": .stringConvertible(Int(s.slots.video?.stats.roundTripTime ?? -1)),
                ])
            return out
        } catch {
            logger.warning("rendition change failed", metadata: ["session": .string(s.peer.id), "error": .string("\(error)")])
            s.adaptation = nil
            return []
        }
    }

    /// Moves a subscriber to `quality` at once, or — when it changed less than
    /// ``qualityChangeInterval`` ago — once the interval has passed (the latest wish wins; a
    /// deferred move the quotas refuse leaves it where it is, counted as
    /// `quality-change-refused`). An explicit choice ends automatic adaptation for it. Starting a
    /// rendition builds its codecs on this loop, and a subscriber toggling as fast as `/ws` lets it
    /// (20 a second) once took most of the loop (hardening review). Nil if there is no such
    /// subscriber; else what to send (a PLI).
    func setQuality(id: String, room: String? = nil, quality: Quality, now: MediaTime) throws(RelayError) -> [OutgoingDatagram]? {
        guard let session = sessions[id], room == nil || session.room == room, let s = session.subscription else { return nil }
        s.adaptation = nil
        if let last = s.lastRequestedChange, now - last < Self.qualityChangeInterval {
            s.pendingQuality = quality
            qualityPending.insert(id)
            return []
        }
        s.pendingQuality = nil
        qualityPending.remove(id)
        s.lastRequestedChange = now
        return try move(s, to: quality)
    }

    /// Applies the rendition changes that waited for ``qualityChangeInterval``.
    func applyPendingQualityChanges(now: MediaTime) -> [OutgoingDatagram] {
        var out: [OutgoingDatagram] = []
        for id in qualityPending {
            guard let s = sessions[id]?.subscription, let wanted = s.pendingQuality else {
                qualityPending.remove(id)
                continue
            }
            guard let last = s.lastRequestedChange, now - last < Self.qualityChangeInterval else {
                qualityPending.remove(id)
                s.pendingQuality = nil
                s.lastRequestedChange = now
                do { out += try move(s, to: wanted) } catch { count("quality-change-refused") }
                continue
            }
        }
        return out
    }

    /// Moves a subscriber to another rendition; its streams continue (``StreamRewriter``) and it
    /// gets a key frame of the new one. On failure it stays where it was (its rendition, if
    /// leaving stopped it, starts again in the room it freed).
    func move(_ s: Subscription, to quality: Quality) throws(RelayError) -> [OutgoingDatagram] {
        if s.quality == quality { return [] }
        s.roundTripProbe.cancel()  // it measured the way to where it was going from where it was
        let previous = s.quality
        guard let publication = s.publication else {
            // Waiting for a broadcast's next publisher: it gets this rendition from that one.
            s.quality = quality
            return []
        }
        if publication.isSimulcast {
            // Another layer of the same publication: it switches at that layer's key frame.
            s.quality = quality
            s.peer.stats.qualityChanges += 1
            return publication.retarget(s, now: nil).map { [$0] } ?? []
        }
        publication.unsubscribe(s)
        s.quality = quality
        do {
            try subscribe(s, to: publication)
        } catch {
            // Back where it was — or, when that rendition cannot start again either (another
            // worker took the place it freed), on the source.
            s.quality = previous
            subscribeOrFallBack(s, to: publication)
            throw error
        }
        s.peer.stats.qualityChanges += 1
        return publication.requestKeyFrame(for: quality, now: nil).map { [$0] } ?? []
    }
}
