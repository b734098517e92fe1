import MediaPipeline
import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct RTPStreamStatisticsTests {
    @Test func constantTransitHasNoJitterAndCountsLoss() {
        var r = RTPReceiveStatistics(clockRate: 90_000)
        for i in 0..<100 where i % 10 != 3 {  // every tenth packet lost
            r.record(sequenceNumber: UInt16(truncatingIfNeeded: 65_500 + i), timestamp: UInt32(i * 3_000), size: 1_000, arrival: .milliseconds(Double(i) * 33.333_333 + 40))
        }
        #expect(r.jitter <= 1)
        #expect(r.expected == 100)
        #expect(r.cumulativeLost == 10)
        let block = r.reportBlock(ssrc: 7, now: .milliseconds(4_000))
        #expect(block.extendedHighestSequence == UInt32(65_500 + 99))
        #expect(block.cumulativeLost == 10)
        #expect(block.fractionLost == UInt8(10 * 256 / 100))
        // The next interval with no loss reports a fraction of 0 but the same cumulative count.
        for i in 100..<150 { r.record(sequenceNumber: UInt16(truncatingIfNeeded: 65_500 + i), timestamp: UInt32(i * 3_000), size: 1_000, arrival: .milliseconds(Double(i) * 33.333_333 + 40)) }
        let next = r.reportBlock(ssrc: 7, now: .milliseconds(6_000))
        #expect(next.fractionLost == 0)
        #expect(next.cumulativeLost == 10)
    }

    @Test func jitterFollowsTheArrivalSpread() {
        var calm = RTPReceiveStatistics(clockRate: 48_000), rough = RTPReceiveStatistics(clockRate: 48_000)
        var rng = SeededRandom(seed: 1)
        for i in 0..<2_000 {
            let sent = Double(i) * 20
            calm.record(sequenceNumber: UInt16(i), timestamp: UInt32(i * 960), size: 100, arrival: .milliseconds(sent + 30 + rng.gaussian(mean: 0, deviation: 1)))
            rough.record(sequenceNumber: UInt16(i), timestamp: UInt32(i * 960), size: 100, arrival: .milliseconds(sent + 30 + max(-29, rng.gaussian(mean: 0, deviation: 10))))
        }
        // For normal noise of σ the RFC 3550 estimator settles near 2σ/√π ≈ 1.13σ.
        #expect(calm.jitterMilliseconds < 2)
        #expect(rough.jitterMilliseconds > 8 && rough.jitterMilliseconds < 16, "jitter \(rough.jitterMilliseconds) ms")
    }

    @Test func roundTripFromTheReceiversReport() throws {
        var s = RTPSendStatistics(clockRate: 90_000)
        s.record(timestamp: 90_000, payloadBytes: 1_000, at: .milliseconds(1_000))
        let ntp: UInt64 = 0xE000_0000_1234_5678
        let report = s.senderReport(ssrc: 5, ntp: ntp, now: .milliseconds(1_500))
        let sr = try #require(report)
        #expect(sr.packetCount == 1 && sr.octetCount == 1_000)
        #expect(sr.rtpTimestamp == 90_000 + 45_000)  // advanced by the 0.5 s since the last packet
        // The receiver got the SR and answered 20 ms later; the answer reaches us at 1.560 s.
        let block = RTCPReportBlock(
            ssrc: 5, fractionLost: 64, cumulativeLost: 3, extendedHighestSequence: 10, jitter: 900,
            lastSenderReport: UInt32(truncatingIfNeeded: ntp >> 16), delaySinceLastSenderReport: 65_536 / 50)
        let sample = s.receive(block, now: .milliseconds(1_560))
        let rtt = try #require(s.roundTripTime)
        #expect(abs(rtt - 40) < 0.1, "RTT \(rtt) ms")
        #expect(sample == rtt, "a fresh sample")
        #expect(s.fractionLost == 0.25)
        #expect(s.jitterMilliseconds == 10)
        // A second report echoing the same SR measures nothing new; nor does one whose delay
        // since it (forged) makes the round trip negative.
        var again = block
        again.delaySinceLastSenderReport = 65_536 / 10
        #expect(s.receive(again, now: .milliseconds(2_000)) == nil)
        let nextReport = s.senderReport(ssrc: 5, ntp: ntp + (1 << 32), now: .milliseconds(2_500))
        let next = try #require(nextReport)
        var forged = block
        forged.lastSenderReport = UInt32(truncatingIfNeeded: next.ntpTimestamp >> 16)
        forged.delaySinceLastSenderReport = 65_536
        #expect(s.receive(forged, now: .milliseconds(2_600)) == nil)
        forged.delaySinceLastSenderReport = 65_536 / 20
        #expect(s.receive(forged, now: .milliseconds(2_600)).map { abs($0 - 50) < 0.1 } == true)
    }
}
