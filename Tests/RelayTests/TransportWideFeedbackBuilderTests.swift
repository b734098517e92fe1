import MediaPipeline
import MediaWire
@testable import Relay
import Testing

/// The feedback the relay sends a publisher (issue 16, item 4): what arrived, when, read back the
/// way a sender reads it; bounded whatever numbers a publisher sends.
@Suite struct TransportWideFeedbackBuilderTests {
    /// Arrivals with a gap and a reordered pair come back — through the wire format — as the
    /// sender's history reads them: each received number with its arrival (to 250 µs), the gap not
    /// received.
    @Test func arrivalsRoundTripThroughTheWireFormat() throws {
        var builder = TransportWideFeedbackBuilder()
        var history = TransportWideSendHistory()
        for _ in 0..<8 { history.sent(history.number(), bytes: 1_000, at: .zero) }
        // Numbers 1–8 sent; 4 never arrives; 6 arrives before 5.
        let arrivals: [(UInt16, Int64)] = [(1, 1_000_000), (2, 1_003_000), (3, 1_004_250), (6, 1_010_000), (5, 1_011_000), (7, 1_012_500), (8, 1_100_000)]
        for (n, at) in arrivals { builder.record(n, at: MediaTime(microseconds: at)) }
        let fbBuilt = builder.feedback(senderSSRC: 1, mediaSSRC: 2)
        let fb = try #require(fbBuilt)
        #expect(fb.baseSequence == 1 && fb.packets.count == 8)
        let bytes = RTCPPacket.serializeCompound([.transportFeedback(fb)])
        guard case .transportFeedback(let parsed) = try #require(try RTCPPacket.parseCompound(bytes).first) else {
            Issue.record("not a transport-wide feedback")
            return
        }
        let packets = history.packets(for: parsed)
        let got = Dictionary(uniqueKeysWithValues: zip(UInt16(1)...8, packets.map(\.arrived)))
        #expect(got[4] == .some(nil))
        // Differences between arrivals survive (the reference time is whole 64 ms).
        let base = try #require(got[1] ?? nil)
        for (n, at) in arrivals {
            let arrived = try #require(got[n] ?? nil)
            #expect(abs((arrived - base).microseconds - (at - 1_000_000)) < 250, "number \(n)")
        }
        let nothing = builder.feedback(senderSSRC: 1, mediaSSRC: 2)
        #expect(nothing == nil, "nothing new")
        builder.record(9, at: .milliseconds(1_200))
        builder.record(5, at: .milliseconds(1_201))  // already reported: not again
        let nextBuilt = builder.feedback(senderSSRC: 1, mediaSSRC: 2)
        let next = try #require(nextBuilt)
        #expect(next.baseSequence == 9 && next.packets.count == 1 && next.feedbackCount == fb.feedbackCount &+ 1)
    }

    /// A publisher's numbers are its own: a jump of 30,000, numbers that wrap, a gap of 10 s
    /// between two packets. Feedback stays within its bounds and the numbers carry on.
    @Test func hostileNumbersStayBounded() throws {
        var builder = TransportWideFeedbackBuilder()
        var now = MediaTime.milliseconds(10)
        var n: UInt16 = 65_000
        for _ in 0..<20_000 {
            builder.record(n, at: now)
            n &+= 3  // every third number: two lost each time, and the numbers wrap
            now = now + .milliseconds(1)
        }
        builder.record(n &+ 30_000, at: now)
        var covered = 0, feedbacks = 0
        while let fb = builder.feedback(senderSSRC: 1, mediaSSRC: 2) {
            #expect(fb.packets.count <= TransportWideFeedbackBuilder.maximumPerFeedback)
            covered += fb.packets.count
            feedbacks += 1
            #expect(feedbacks < 100)
        }
        // Only what the ring holds is reported: a jump further ahead drops the rest.
        #expect(covered <= TransportWideFeedbackBuilder.capacity)
        // A packet 10 s after the one before: its delta does not fit 16 bits, so the feedback
        // ends before it and the next one reports it with its own reference time.
        var late = TransportWideFeedbackBuilder()
        late.record(1, at: .milliseconds(0))
        late.record(2, at: .milliseconds(10_000))
        let firstBuilt = late.feedback(senderSSRC: 1, mediaSSRC: 2)
        let first = try #require(firstBuilt)
        let secondBuilt = late.feedback(senderSSRC: 1, mediaSSRC: 2)
        let second = try #require(secondBuilt)
        #expect(first.packets.count == 1 && second.baseSequence == 2 && second.packets.count == 1)
        #expect(second.referenceTime == Int32(10_000 / 64))
    }
}
