import Foundation
import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// A viewer without transport-wide feedback that NACKs a packet again within the round trip of
/// its resend gets it again when that round trip is up, and twice more, two and four round
/// trips on (``DeferredNACKs``): aiortc NACKs only
/// when it sees a new gap, so the answer to its last NACK before a congested path clears is the
/// last chance it gives, and a packet it never gets stalls it until 512 more have come (15–18 s
/// of the 180p layer in the browser runs). Through a socket-free ``RelayState`` with peers that
/// did the real handshake.
@Suite struct DeferredNACKTests {
    struct Scene {
        var setup: SimulcastTests.Setup
        let viewer: ConnectedPeer
        let lost: UInt16
        let video: UInt32

        init(transportWideCC: Bool) throws {
            setup = try SimulcastTests.Setup(viewers: [.medium], transportWideCC: transportWideCC)
            try setup.run(frames: 10, keyFirst: true)
            viewer = setup.viewers[0]
            let media = viewer.media(setup.sent)
            try #require(media.count >= 6)
            lost = media[4].sequence
            video = try #require(viewer.answer.videoSSRC)
        }

        /// The viewer's NACK for the lost packet at `time`; what the relay sent it in answer.
        func nack(at time: MediaTime) throws -> [UInt16] {
            let packet = try viewer.rtcp([
                .receiverReport(RTCPReceiverReport(ssrc: 1)), .nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: video, lost: [lost])),
            ])
            return viewer.media(setup.world.relay.receive(packet, from: viewer.address, now: time)).map(\.sequence)
        }

        func tick(at time: MediaTime) -> [UInt16] { viewer.media(setup.world.relay.tick(now: time)).map(\.sequence) }
    }

    @Test(arguments: [false, true]) func askedAgainWithinTheRoundTripItIsAnsweredAgainWhenItIsUp(transportWideCC: Bool) throws {
        let scene = try Scene(transportWideCC: transportWideCC)
        let t = scene.setup.now
        #expect(try scene.nack(at: t + .milliseconds(1)) == [scene.lost], "the first answer (lost on the way, say)")
        // The round trip: 100 ms before one is measured.
        let roundTrip = 100.0
        #expect(try scene.nack(at: t + .milliseconds(40)).isEmpty, "asked again within the round trip")
        #expect(scene.tick(at: t + .milliseconds(roundTrip - 10)).isEmpty, "not due yet")
        // Due a round trip after the first answer, then two round trips on, then four: three in all.
        let answers = [1.2, 1.5, 3.3, 3.6, 7.3, 8, 20].map { scene.tick(at: t + .milliseconds(roundTrip * $0)) }
        let totals = scene.setup.world.relay.snapshot().totals
        if transportWideCC {
            // A browser asks again itself, on its own clock.
            #expect(answers.allSatisfy { $0.isEmpty })
            #expect(totals.retransmittedAgain == 0)
        } else {
            #expect(answers.map(\.count) == [1, 0, 1, 0, 1, 0, 0], "\(answers)")
            #expect(answers.joined().allSatisfy { $0 == scene.lost })
            #expect(totals.retransmittedAgain == DeferredNACKs.attempts)
        }
        #expect(scene.setup.world.relay.resendPending.isEmpty)
    }

    /// Not once the packet is more than ``DeferredNACKs/reach`` behind the newest sent: a receiver
    /// that has it already and has moved on would take it for a new stream (aiortc discards
    /// everything it holds then).
    @Test func notOnceTheStreamHasMovedOnFurtherThanTheReceiverLooksBack() throws {
        var scene = try Scene(transportWideCC: false)
        let t = scene.setup.now
        #expect(try scene.nack(at: t + .milliseconds(1)) == [scene.lost])
        #expect(try scene.nack(at: t + .milliseconds(40)).isEmpty)
        for _ in 0..<Int(DeferredNACKs.reach) {
            scene.setup.sent += scene.setup.world.relay.receive(
                try scene.setup.publisher.frame(1, key: false), from: scene.setup.publisher.peer.address, now: t + .milliseconds(50))
        }
        let skipped = scene.setup.world.relay.snapshot().totals.retransmissionsSkipped
        #expect(scene.tick(at: t + .milliseconds(120)).isEmpty)
        #expect(scene.setup.world.relay.snapshot().totals.retransmissionsSkipped == skipped + 1)
        #expect(scene.setup.world.relay.snapshot().totals.retransmittedAgain == 0)
    }

    /// The budget is a share of the media alone: an answer spends the packet's size and earns
    /// nothing back (when resends earned like media, a viewer NACKing without end got about a
    /// third more than the written share, and twice the written burst). A browser's budget is a
    /// quarter of its media and 64 KiB, a receiver-report viewer's half and 256 KiB.
    @Test(arguments: [false, true]) func aResendSpendsItsSizeAndEarnsNothing(transportWideCC: Bool) throws {
        let scene = try Scene(transportWideCC: transportWideCC)
        let s = try #require(scene.setup.world.relay.sessions[scene.viewer.id]?.subscription)
        let budget = s.retransmissionBudget
        #expect(budget.capacity == (transportWideCC ? RetransmissionBudget.capacity : RetransmissionBudget.repairCapacity))
        #expect(budget.divisor == (transportWideCC ? 4 : 2))
        let (cache, _) = try #require(s.publication?.retransmissionSource(for: s, kind: .video))
        let input = try #require(s.slots.video?.rewriter.original(scene.lost))
        let size = try #require(cache.packet(input)).readableBytes
        let before = budget.bytes
        #expect(try scene.nack(at: scene.setup.now + .milliseconds(1)) == [scene.lost])
        #expect(s.retransmissionBudget.bytes == before - size)
    }

    /// A flood of repeated NACKs queues at most ``DeferredNACKs/capacity`` packets, each once.
    @Test func whatWaitsIsBounded() {
        var waiting = DeferredNACKs()
        for seq in 0..<UInt16(300) { _ = waiting.add(seq, due: .milliseconds(Double(seq))) }
        #expect(waiting.count == DeferredNACKs.capacity)
        let full = waiting.add(999, due: .zero), again = waiting.add(5, due: .zero)
        #expect(!full)
        #expect(again, "already waiting: kept, with its own time")
        #expect(waiting.count == DeferredNACKs.capacity)
        let due = waiting.takeDue(now: .milliseconds(9.5))
        #expect(due.map(\.seq) == Array(0..<10) && due.allSatisfy { $0.left == DeferredNACKs.attempts - 1 })
        #expect(waiting.count == DeferredNACKs.capacity - 10)
        let none = waiting.takeDue(now: .milliseconds(9.5)), rest = waiting.takeDue(now: .milliseconds(1_000))
        #expect(none.isEmpty)
        #expect(rest.count == DeferredNACKs.capacity - 10)
        #expect(waiting.isEmpty)
    }
}
