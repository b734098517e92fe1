import MediaPipeline
import MediaWire
@testable import Relay
import Testing
import WebRTCClient

/// A viewer's own key-frame requests (its PLIs) through a socket-free ``RelayState``: each is
/// kept until a key frame reaches the viewer (``PendingKeyFrame``) — passed on to the publisher
/// at once, asked again if none comes, never lost to the publication's throttle — and one viewer
/// asking without pause costs the publisher at most one key frame a second (libwebrtc's simulcast
/// encoder keys every layer on any PLI, and its smallest layer pays for each by skipping frames:
/// every viewer of the broadcast would see it).
@Suite struct KeyFrameRequestTests {
    typealias Setup = SimulcastTests.Setup

    /// A PLI from `viewer` to the relay, arriving at `now`.
    static func pli(from viewer: ConnectedPeer, in setup: inout Setup) throws {
        let ssrc = try #require(viewer.answer.videoSSRC)
        let bytes = try viewer.rtcp([
            .receiverReport(RTCPReceiverReport(ssrc: 1)), .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: ssrc)),
        ])
        setup.sent += setup.world.relay.receive(bytes, from: viewer.address, now: setup.now)
    }

    /// `frames` frames of every layer at 30 a second with the relay's timers between; the
    /// publisher answers each PLI (for any layer) with a key frame of every layer `answerAfter`
    /// later, as libwebrtc does, or never when nil. `each` runs before every frame. Returns the
    /// times of the PLIs the publisher got.
    static func run(
        _ setup: inout Setup, frames: Int, answerAfter: MediaTime?, each: (inout Setup) throws -> Void = { _ in }
    ) throws -> [MediaTime] {
        var plis: [MediaTime] = []
        var keyDue: MediaTime?
        for _ in 0..<frames {
            setup.now = setup.now + .milliseconds(33)
            try each(&setup)
            let key = keyDue.map { setup.now >= $0 } ?? false
            if key { keyDue = nil }
            var out: [OutgoingDatagram] = []
            for layer in 0..<3 {
                out += setup.world.relay.receive(try setup.publisher.frame(layer, key: key), from: setup.publisher.peer.address, now: setup.now)
            }
            out += setup.world.relay.tick(now: setup.now)
            setup.sent += out
            let asked = SimulcastTests.plis(setup.publisher.peer, setup.sent)
            if !asked.isEmpty {
                plis.append(setup.now)
                if let answerAfter, keyDue == nil { keyDue = setup.now + answerAfter }
            }
            setup.sent = []
        }
        return plis
    }

    /// The attack: a viewer sends a PLI with every frame for 3 s. Before, each went on whenever the
    /// publication's 300 ms throttle let it (ten key frames of every layer in 3 s, for everyone);
    /// now at most one a second.
    @Test func aViewerAskingWithoutPauseCostsTheBroadcastAtMostOneKeyFrameASecond() throws {
        var setup = try Setup(viewers: [.low, .source])
        try setup.run(frames: 10, keyFirst: true)
        setup.sent = []
        let attacker = setup.viewers[0]
        let plis = try Self.run(&setup, frames: 90, answerAfter: .milliseconds(100)) { try Self.pli(from: attacker, in: &$0) }
        #expect(!plis.isEmpty)
        #expect(plis.count <= 4, "PLIs at \(plis.map { $0.microseconds / 1_000 }) ms")
        for (a, b) in zip(plis, plis.dropFirst()) {
            #expect(b - a >= PendingKeyFrame.interval, "PLIs at \(a.microseconds / 1_000) and \(b.microseconds / 1_000) ms")
        }
        let totals = setup.world.relay.snapshot().totals
        #expect(totals.keyFrameRequestsIn >= 90)
        #expect(totals.keyFrameRequestsPassedOn == plis.count, "every PLI after the start passed on the attacker's")
        #expect(totals.keyFrameRequests > totals.keyFrameRequestsPassedOn, "the viewers' first frames were the relay's own")
    }

    /// A request is kept until the key frame comes: a publisher that does not answer is asked
    /// again a second later (a receiver such as aiortc asks once, then waits); a request made
    /// while one is on its way goes with it; once the key frame reaches the viewer nothing more
    /// is asked for.
    @Test func aRequestIsAskedAgainUntilItsKeyFrameComesAndNotAfter() throws {
        var setup = try Setup(viewers: [.low, .low])
        try setup.run(frames: 10, keyFirst: true)
        setup.sent = []
        let start = setup.now
        try Self.pli(from: setup.viewers[0], in: &setup)
        #expect(SimulcastTests.plis(setup.publisher.peer, setup.sent).count == 1, "passed on at once")
        setup.sent = []
        // The other viewer asks 100 ms later, while the first request waits for its key frame.
        var unanswered = try Self.run(&setup, frames: 3, answerAfter: nil)
        try Self.pli(from: setup.viewers[1], in: &setup)
        #expect(SimulcastTests.plis(setup.publisher.peer, setup.sent).isEmpty, "one on its way serves both")
        setup.sent = []
        unanswered += try Self.run(&setup, frames: 70, answerAfter: nil)
        let seconds = unanswered.map { Double(($0 - start).microseconds) / 1e6 }
        #expect(seconds.count == 2 && seconds.allSatisfy { $0 >= 1 }, "asked again at \(seconds) s")
        // The publisher answers the next one: both viewers get the key frame, nothing more is asked.
        let answered = try Self.run(&setup, frames: 90, answerAfter: .milliseconds(100))
        #expect(answered.count == 1, "PLIs at \(answered.map { ($0 - start).microseconds / 1_000 }) ms")
    }
}
