import MediaPipeline
import MediaWire
@testable import Relay
import Testing

/// The pipe between two workers (``PipeOut``, a mirror ``Publication``), socket-free: two
/// ``RelayState``s — the worker holding the publisher ("home") and one holding some of the room's
/// subscribers ("far") — wired the way ``RelayServer`` wires them, with the hops made synchronous.
@Suite struct PipeTests {
    /// Two workers and the pipe between them, for one room.
    final class Pair {
        let home: PublicationTests.World
        let far: PublicationTests.World
        /// What the home sent because of the far end (key-frame requests, NACKs to the publisher).
        var upstreamOut: [OutgoingDatagram] = []
        /// What the far end sent when a batch arrived.
        var farOut: [OutgoingDatagram] = []
        var detached = 0
        var pipe: PipeOut?
        /// When set, batches reach the far end's loop but it never runs them.
        var farStalled = false
        var attachTime = MediaTime.zero

        init(limits: RelayLimits = RelayLimits()) throws {
            // One relay: the workers share the renditions' budget.
            let budget = RenditionBudget()
            home = try PublicationTests.World(limits: limits, budget: budget)
            far = try PublicationTests.World(limits: limits, budget: budget)
        }

        /// Mirrors the room's latest publication on the far worker and attaches its pipe, as
        /// ``RelayServer`` does; nil when nothing was made (`onlyForOrphans` and none wait).
        @discardableResult
        func connect(room: String, onlyForOrphans: Bool = false) throws -> String? {
            let description = try home.relay.describe(room: room, source: nil)
            let id = description.id
            guard
                let (token, made) = far.relay.mirror(description, onlyForOrphans: onlyForOrphans, upstream: { [unowned self] token in
                    PipeUpstream(
                        requestKeyFrame: { layer in
                            self.upstreamOut += self.home.relay.pipedKeyFrameRequest(for: id, layer: layer, now: MediaTime(microseconds: 5_000_000))
                        },
                        nack: { lost, kind in self.upstreamOut += self.home.relay.pipedNACK(for: id, lost: lost, kind: kind) },
                        detach: {
                            self.detached += 1
                            self.home.relay.detachPipe(from: id, worker: 1, token: token)
                        })
                })
            else { return nil }
            if made {
                let pipe = PipeOut(
                    worker: 1, token: token,
                    send: { [unowned self] batch, gauge in
                        guard !self.farStalled else { return }  // a far loop that never gets to it
                        self.farOut += self.far.relay.receivePiped(batch, id: id, token: token, now: .zero)
                        gauge.done(batch.count)
                    },
                    ended: { [unowned self] in self.far.relay.mirrorEnded(id: id, token: token) })
                self.pipe = pipe
                let (attached, out) = home.relay.attach(pipe, to: id, now: attachTime)
                upstreamOut += out
                if attached { far.relay.mirrorAttached(id: id, token: token) } else { far.relay.mirrorEnded(id: id, token: token) }
            }
            return id
        }
    }

    /// Each of the publisher's packets crosses once per loop turn in one batch, however many
    /// subscribers the far worker has, and reaches each of them rewritten for it, as the home's
    /// own subscribers get it; a new pipe starts with a key-frame request to the publisher.
    @Test func eachPacketCrossesOnceAndReachesEveryFarSubscriber() throws {
        let pair = try Pair()
        let publisher = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_000)
        _ = pair.home.relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: 1), from: publisher.address, now: .zero)
        let near = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "near", publishing: false, port: 7_001)
        let id = try #require(try pair.connect(room: "show"))
        #expect(id == publisher.id, "the mirror has the publication's id")
        #expect(pair.upstreamOut.count == 1 && pair.upstreamOut.first?.to == publisher.address, "a key frame for the new pipe")
        let farViewers = try (0..<3).map {
            try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "far\($0)", publishing: false, port: 7_010 + UInt16($0), source: id)
        }
        var nearGot: [RTPPacket] = []
        for seq in UInt16(100)...104 {
            let out = pair.home.relay.receive(
                try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: PublicationTests.payload(7, Int(seq))), from: publisher.address,
                now: .milliseconds(20))
            nearGot += near.received(out)
        }
        #expect(pair.farOut.isEmpty, "nothing crosses before the loop turn ends")
        pair.home.relay.flushPipes()
        let pipe = try #require(pair.pipe)
        #expect(pipe.packets == 5 && pipe.batches == 1, "\(pipe.packets) packets in \(pipe.batches) hops")
        let snapshot = pair.home.relay.snapshot()
        #expect(snapshot.pipes == 1 && snapshot.pipedPackets == 5)
        #expect(nearGot.map(\.payload) == (100...104).map { PublicationTests.payload(7, $0) })
        for viewer in farViewers {
            let got = viewer.received(pair.farOut)
            #expect(got.map(\.payload) == (100...104).map { PublicationTests.payload(7, $0) })
            #expect(got.allSatisfy { $0.header.ssrc == viewer.answer.videoSSRC })
        }
        pair.home.relay.flushPipes()
        #expect(pipe.batches == 1, "an empty turn sends nothing")
    }

    /// A far subscriber's PLI goes up the pipe to the publisher; its NACK is answered from the
    /// mirror's own cache (nothing goes up); a far rendition's decoder's NACK goes to the publisher.
    @Test func feedbackFromTheFarSideGoesWhereItShould() throws {
        let pair = try Pair()
        let publisher = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_100)
        _ = pair.home.relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: 1), from: publisher.address, now: .zero)
        let id = try #require(try pair.connect(room: "show"))
        pair.upstreamOut = []
        let viewer = try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "v", publishing: false, port: 7_101, source: id)
        let low = try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "low", publishing: false, port: 7_102, quality: .low, source: id)
        let encoder = try pair.far.encoder(.low)
        #expect(pair.home.encoders.isEmpty, "the rendition runs where its subscriber is")
        for seq in UInt16(200)...203 {
            _ = pair.home.relay.receive(
                try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq, payload: PublicationTests.payload(9, Int(seq))), from: publisher.address,
                now: MediaTime(microseconds: 1_000_000))
        }
        pair.home.relay.flushPipes()
        #expect(encoder.fed.map(\.sequenceNumber) == [200, 201, 202, 203], "the far rendition is fed from the pipe")
        // The third is lost on the way to the viewer (SRTP's replay check would refuse it twice).
        var toViewer = pair.farOut.filter { $0.to == viewer.address }
        #expect(toViewer.count == 4)
        let lostSeq = try #require(toViewer.dropFirst(2).first.flatMap { d in d.buffer.withUnsafeReadableBytes { try? RTPHeaderView($0) } }?.sequenceNumber)
        toViewer.remove(at: 2)
        #expect(viewer.received(toViewer).count == 3)
        let videoSSRC = try #require(viewer.answer.videoSSRC)

        // PLI → up the pipe → a PLI to the publisher.
        let pli = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 0x2222)), .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 0x2222, mediaSSRC: videoSSRC)),
        ])
        #expect(pair.far.relay.receive(pli, from: viewer.address, now: MediaTime(microseconds: 2_000_000)).isEmpty)
        #expect(pair.upstreamOut.count == 1 && pair.upstreamOut.first?.to == publisher.address)
        // NACK for a packet that crossed → resent by the far worker from the mirror's cache.
        pair.upstreamOut = []
        let nack = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 0x2222)), .nack(RTCPGenericNACK(senderSSRC: 0x2222, mediaSSRC: videoSSRC, lost: [lostSeq])),
        ])
        let resentOut = pair.far.relay.receive(nack, from: viewer.address, now: MediaTime(microseconds: 2_050_000))
        let resent = viewer.received(resentOut)
        #expect(resent.map(\.payload) == [PublicationTests.payload(9, 202)])
        #expect(pair.upstreamOut.isEmpty, "the publisher is not asked for what the mirror has")
        // The far rendition's decoder misses packets → a NACK to the publisher.
        var output = RenditionOutput()
        output.videoNACKs = [190, 191]
        _ = pair.far.relay.renditionOutput(source: id, quality: .low, output, now: MediaTime(microseconds: 3_000_000))
        #expect(pair.upstreamOut.count == 1 && pair.upstreamOut.first?.to == publisher.address)
        _ = low
    }

    /// The publisher leaves: the far subscribers wait, as the home's do; the next publisher's
    /// stream reaches them through a new pipe, on the same outgoing stream. When the far worker's
    /// last subscriber leaves, its mirror goes and the home stops piping.
    @Test func farSubscribersFollowTheNextPublisherAndTheLastOneEndsThePipe() throws {
        let pair = try Pair()
        let first = try ConnectedPeer.connect(to: pair.home.relay, room: "live", identity: "m", publishing: true, port: 7_200)
        let id = try #require(try pair.connect(room: "live"))
        let viewer = try ConnectedPeer.connect(to: pair.far.relay, room: "live", identity: "v", publishing: false, port: 7_201, source: id)
        var before: [RTPPacket] = []
        for seq in UInt16(10)...11 {
            _ = pair.home.relay.receive(try first.rtp(ssrc: first.offer.videoSSRC, sequence: seq), from: first.address, now: .zero)
        }
        pair.home.relay.flushPipes()
        before = viewer.received(pair.farOut)
        #expect(before.count == 2)

        #expect(pair.home.relay.close(id: first.id, reason: "test"))
        #expect(pair.far.relay.publications[id] == nil, "the mirror ended with its origin")
        #expect(pair.far.relay.hasOrphans(in: "live"))
        #expect(pair.far.relay.statistics().first { $0.id == viewer.id }?.watching == first.id)

        let next = try ConnectedPeer.connect(to: pair.home.relay, room: "live", identity: "m", publishing: true, port: 7_202)
        pair.farOut = []
        #expect(try pair.connect(room: "live", onlyForOrphans: true) == next.id)
        #expect(!pair.far.relay.hasOrphans(in: "live"))
        #expect(pair.far.relay.statistics().first { $0.id == viewer.id }?.watching == next.id)
        for seq in UInt16(5_000)...5_001 {
            _ = pair.home.relay.receive(try next.rtp(ssrc: next.offer.videoSSRC, sequence: seq), from: next.address, now: MediaTime(microseconds: 1_000_000))
        }
        pair.home.relay.flushPipes()
        let after = viewer.received(pair.farOut)
        #expect(after.count == 2)
        #expect(Set((before + after).map(\.header.ssrc)).count == 1, "one outgoing stream throughout")
        #expect(after.first?.header.sequenceNumber == before.last.map { $0.header.sequenceNumber &+ 1 })

        // No orphans and a mirror there: nothing more is made.
        #expect(try pair.connect(room: "live", onlyForOrphans: true) == next.id)
        // The far worker's last subscriber leaves: mirror gone, the home's pipe detached.
        #expect(pair.far.relay.close(id: viewer.id, reason: "test"))
        #expect(pair.detached == 1)
        #expect(pair.far.relay.publications[next.id] == nil)
        #expect(pair.home.relay.publications[next.id]?.pipes.isEmpty == true)
        #expect(pair.home.relay.piping.isEmpty)
        // With nobody waiting on the far side, a new publisher makes no mirror there.
        #expect(try pair.connect(room: "live", onlyForOrphans: true) == nil)
    }

    /// A far loop that falls behind cannot make the origin queue without bound: past
    /// ``PipeOut/maximumInFlight`` packets handed over and not fanned out, batches are dropped
    /// and counted (attacker's review: before, every turn queued another closure on the far loop).
    @Test func aFarLoopThatFallsBehindCannotGrowTheOrigin() throws {
        let pair = try Pair()
        let publisher = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_300)
        let id = try #require(try pair.connect(room: "show"))
        _ = try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "v", publishing: false, port: 7_301, source: id)
        pair.farStalled = true
        let pipe = try #require(pair.pipe)
        var seq: UInt16 = 0
        for _ in 0..<(PipeOut.maximumInFlight / 16 + 20) {
            for _ in 0..<16 {
                seq &+= 1
                _ = pair.home.relay.receive(try publisher.rtp(ssrc: publisher.offer.videoSSRC, sequence: seq), from: publisher.address, now: .zero)
            }
            pair.home.relay.flushPipes()
        }
        #expect(pipe.gauge.inFlight <= PipeOut.maximumInFlight)
        #expect(pipe.packets == PipeOut.maximumInFlight, "\(pipe.packets) handed over")
        #expect(pair.home.relay.dropped["pipe-backlog"] == Int(seq) - PipeOut.maximumInFlight)
    }

    /// A mirror that never got its subscriber (the open that made it failed after) goes after
    /// ``RelayState/mirrorGrace`` and detaches its pipe (attacker's review: it was piped to forever).
    @Test func aMirrorWithoutSubscribersGoesAfterItsGrace() throws {
        let pair = try Pair()
        _ = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_400)
        let id = try #require(try pair.connect(room: "show"))
        #expect(pair.home.relay.piping.count == 1)
        let second = MediaTime(microseconds: 1_000_000)
        _ = pair.far.relay.tick(now: second)
        #expect(pair.far.relay.publications[id] != nil, "kept while an open may still subscribe")
        _ = pair.far.relay.tick(now: second + RelayState.mirrorGrace + RelayState.reportInterval)
        #expect(pair.far.relay.publications[id] == nil)
        #expect(pair.detached == 1 && pair.home.relay.piping.isEmpty)
    }

    /// Subscribers waiting on the far worker follow a mirror only once its pipe is attached: when
    /// the origin ended before the attach, they still wait, and the next publisher's sweep finds
    /// them (attacker's review: they were adopted by the doomed mirror, the sweep found nobody,
    /// and they were stranded until yet another publisher came).
    @Test func waitingSubscribersFollowOnlyAnAttachedMirror() throws {
        let pair = try Pair()
        let first = try ConnectedPeer.connect(to: pair.home.relay, room: "live", identity: "m", publishing: true, port: 7_500)
        let id = try #require(try pair.connect(room: "live"))
        let viewer = try ConnectedPeer.connect(to: pair.far.relay, room: "live", identity: "v", publishing: false, port: 7_501, source: id)
        #expect(pair.home.relay.close(id: first.id, reason: "restart"))
        #expect(pair.far.relay.hasOrphans(in: "live"))
        // A second publisher comes and goes; a mirror of it is made on the far side, but its
        // origin has ended by the time the attach arrives.
        let doomed = try ConnectedPeer.connect(to: pair.home.relay, room: "live", identity: "m", publishing: true, port: 7_502)
        let description = try pair.home.relay.describe(room: "live", source: nil)
        let made = try #require(pair.far.relay.mirror(description, onlyForOrphans: true) { _ in PipeUpstream(requestKeyFrame: { _ in }, nack: { _, _ in }, detach: {}) })
        #expect(pair.far.relay.hasOrphans(in: "live"), "not adopted before the attach")
        #expect(pair.home.relay.close(id: doomed.id, reason: "gone"))
        let pipe = PipeOut(worker: 1, token: made.token, send: { _, _ in }, ended: {})
        #expect(!pair.home.relay.attach(pipe, to: description.id, now: .zero).attached)
        pair.far.relay.mirrorEnded(id: description.id, token: made.token)
        #expect(pair.far.relay.hasOrphans(in: "live"))
        // The third publisher's sweep finds the viewer waiting and it follows.
        let third = try ConnectedPeer.connect(to: pair.home.relay, room: "live", identity: "m", publishing: true, port: 7_503)
        #expect(try pair.connect(room: "live", onlyForOrphans: true) == third.id)
        #expect(pair.far.relay.statistics().first { $0.id == viewer.id }?.watching == third.id)
    }

    /// A room's renditions count over every worker holding its subscribers: spread over two, it
    /// still runs at most ``RelayLimits/renditionsPerRoom`` (attacker's review: each worker
    /// counted only its own, so N workers allowed N times the room's share).
    @Test func aRoomsRenditionQuotaHoldsAcrossWorkers() throws {
        var limits = RelayLimits()
        limits.renditionsPerRoom = 1
        let pair = try Pair(limits: limits)
        _ = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "p", publishing: true, port: 7_600)
        _ = try ConnectedPeer.connect(to: pair.home.relay, room: "show", identity: "low", publishing: false, port: 7_601, quality: .low)
        let id = try #require(try pair.connect(room: "show"))
        #expect(throws: RelayError(.atCapacity, "")) {
            try ConnectedPeer.connect(to: pair.far.relay, room: "show", identity: "medium", publishing: false, port: 7_602, quality: .medium, source: id)
        }
        #expect(pair.far.encoders.isEmpty)
        // Another room on the far worker still gets its own.
        _ = try ConnectedPeer.connect(to: pair.far.relay, room: "other", identity: "q", publishing: true, port: 7_603)
        _ = try ConnectedPeer.connect(to: pair.far.relay, room: "other", identity: "w", publishing: false, port: 7_604, quality: .low)
        #expect(pair.far.encoders[.low]?.count == 1)
    }
}
