import MediaPipeline
import MediaWire
import ShowroomTestSupport
import Testing

func audioPacket(_ seq: UInt16, ts: UInt32? = nil, payload: [UInt8] = [0xF8, 1]) -> RTPPacket {
    RTPPacket(header: RTPHeader(payloadType: 111, sequenceNumber: seq, timestamp: ts ?? UInt32(seq) &* 960, ssrc: 1), payload: payload)
}

func ms(_ v: Double) -> MediaTime { .milliseconds(v) }

func sequences(_ events: [JitterBufferEvent]) -> [UInt16] {
    events.compactMap { if case .packet(let p, _) = $0 { p.header.sequenceNumber } else { nil } }
}

@Suite struct JitterBufferTests {
    static var config: JitterBufferConfiguration {
        var c = JitterBufferConfiguration(clockRate: 48_000)
        c.minimumDelay = 20
        c.maximumDelay = 100
        return c
    }

    /// A fixed 40 ms target, so that the playout times are exact.
    static var fixed: JitterBufferConfiguration {
        var c = JitterBufferConfiguration(clockRate: 48_000)
        c.minimumDelay = 40
        c.maximumDelay = 40
        return c
    }

    @Test func releasesInOrderAtThePlayoutTime() {
        var jb = JitterBuffer(configuration: Self.fixed)
        // Packets every 20 ms; the fastest transit is 30 ms, so packet n is due at 20n + 30 + 40.
        jb.insert(audioPacket(0), arrival: ms(30))
        #expect(jb.pop(now: ms(69)).isEmpty)
        #expect(sequences(jb.pop(now: ms(70))) == [0])
        jb.insert(audioPacket(3), arrival: ms(90))
        jb.insert(audioPacket(1), arrival: ms(90))
        jb.insert(audioPacket(2), arrival: ms(90))
        #expect(sequences(jb.pop(now: ms(90))) == [1])
        #expect(jb.nextPlayout == ms(110))
        #expect(sequences(jb.pop(now: ms(109))) == [])
        #expect(sequences(jb.pop(now: ms(110))) == [2])
        #expect(sequences(jb.pop(now: ms(130))) == [3])
        #expect(jb.statistics.released == 4)
        #expect(jb.statistics.lost == 0)
        #expect(jb.statistics.currentDelay == 40)
    }

    @Test func dropsDuplicatesBeforeAndAfterRelease() {
        var jb = JitterBuffer(configuration: Self.config)
        #expect(jb.insert(audioPacket(0), arrival: ms(30)) == .accepted)
        #expect(jb.insert(audioPacket(0), arrival: ms(31)) == .duplicate)
        _ = jb.pop(now: ms(100))
        #expect(jb.insert(audioPacket(0), arrival: ms(101)) == .duplicate)
        #expect(jb.statistics.duplicates == 2)
    }

    @Test func retransmissionInTimeIsRecovered() {
        var jb = JitterBuffer(configuration: Self.fixed)
        jb.setRoundTripTime(milliseconds: 20)
        jb.insert(audioPacket(0), arrival: ms(30))
        jb.insert(audioPacket(2), arrival: ms(70))  // 1 is missing; 2 is due at 110
        #expect(jb.nackList(now: ms(72)) == [])  // reorder grace
        #expect(jb.nackList(now: ms(76)) == [1])
        #expect(jb.nackList(now: ms(80)) == [])  // not again within one RTT
        jb.insert(audioPacket(1), arrival: ms(100))  // the retransmission
        let events = jb.pop(now: ms(110))
        #expect(sequences(events) == [0, 1, 2])
        #expect(jb.statistics.recovered == 1)
        #expect(jb.statistics.lost == 0)
        #expect(jb.statistics.nacked == 1)
    }

    @Test func retransmissionTooLateIsLostThenLate() {
        var jb = JitterBuffer(configuration: Self.fixed)
        jb.insert(audioPacket(0), arrival: ms(30))
        jb.insert(audioPacket(2), arrival: ms(70))
        let events = jb.pop(now: ms(110))
        #expect(events == [
            .packet(audioPacket(0), arrival: ms(30)), .lost(firstSequence: 1, count: 1),
            .packet(audioPacket(2), arrival: ms(70)),
        ])
        #expect(jb.insert(audioPacket(1), arrival: ms(111)) == .late)
        #expect(jb.statistics.lost == 1)
        #expect(jb.statistics.late == 1)
    }

    @Test func nackRespectsRetryLimitAndDeadline() {
        var config = Self.config
        config.maximumDelay = 400
        config.minimumDelay = 300  // a long buffer, so the deadline is far
        config.maxNackRetries = 2
        var jb = JitterBuffer(configuration: config)
        jb.setRoundTripTime(milliseconds: 50)
        jb.insert(audioPacket(0), arrival: ms(0))
        jb.insert(audioPacket(2), arrival: ms(40))
        var asked: [Double] = []
        for t in stride(from: 40.0, to: 300, by: 1) where !jb.nackList(now: ms(t)).isEmpty { asked.append(t) }
        #expect(asked == [45, 95])
        // With a short buffer, a retransmission could not arrive before packet 2 plays: no NACK.
        var short = JitterBuffer(configuration: Self.fixed)
        short.setRoundTripTime(milliseconds: 200)
        short.insert(audioPacket(0), arrival: ms(0))
        short.insert(audioPacket(2), arrival: ms(40))
        #expect(short.nackList(now: ms(50)) == [])
    }

    @Test func sequenceWrapIsSeamless() {
        var jb = JitterBuffer(configuration: Self.config)
        var released: [UInt16] = []
        var seq: UInt16 = 65_530
        for i in 0..<12 {
            jb.insert(audioPacket(seq, ts: UInt32(i * 960)), arrival: ms(Double(i * 20)))
            released += sequences(jb.pop(now: ms(Double(i * 20))))
            seq &+= 1
        }
        released += sequences(jb.pop(now: ms(1_000)))
        #expect(released == (0..<12).map { UInt16(truncatingIfNeeded: 65_530 + $0) })
    }

    /// 60 s of 20 ms packets over a path with 30 ms ± 10 ms jitter, 2% loss and 1% reordering,
    /// with NACK answered after one more trip through the same path.
    @Test func survivesTheReferenceNetwork() {
        var config = JitterBufferConfiguration(clockRate: 48_000)
        config.maximumDelay = 150
        var jb = JitterBuffer(configuration: config)
        jb.setRoundTripTime(milliseconds: 60)
        var forward = NetworkSimulator<RTPPacket>(seed: 11, baseDelayMs: 30, jitterMs: 10, loss: 0.02, reorder: 0.01)
        var released: [Int64] = []
        var unwrap = SequenceUnwrapper()
        var maxResidence = 0.0
        var originals: [UInt16: RTPPacket] = [:]
        var pendingRetransmits: [(at: Int64, seq: UInt16)] = []
        let total = 3_000
        for t in stride(from: Int64(0), to: Int64(total * 20 + 1_000) * 1_000, by: 1_000) {
            if t % 20_000 == 0 && t / 20_000 < total {
                let seq = UInt16(truncatingIfNeeded: t / 20_000)
                let p = audioPacket(seq, ts: UInt32(t / 20_000) * 960)
                originals[seq] = p
                forward.send(p, now: t)
            }
            // The sender answers a NACK half an RTT later; the copy takes the forward path.
            for r in pendingRetransmits where r.at <= t { forward.send(originals[r.seq]!, now: t) }
            pendingRetransmits.removeAll { $0.at <= t }
            for (arrival, p) in forward.receive(now: t) { jb.insert(p, arrival: MediaTime(microseconds: arrival)) }
            for seq in jb.nackList(now: MediaTime(microseconds: t)) { pendingRetransmits.append((t + 30_000, seq)) }
            for e in jb.pop(now: MediaTime(microseconds: t)) {
                if case .packet(let p, let arrival) = e {
                    released.append(unwrap.unwrap(p.header.sequenceNumber))
                    maxResidence = max(maxResidence, Double(t - arrival.microseconds) / 1_000)
                }
            }
        }
        let s = jb.statistics
        #expect(zip(released, released.dropFirst()).allSatisfy { $0 < $1 }, "released out of order")
        #expect(released.count + s.lost == total)
        #expect(forward.dropped > 40)  // the path really lost packets
        #expect(s.recovered > forward.dropped / 2, "recovered \(s.recovered) of \(forward.dropped) drops")
        #expect(Double(s.lost) < 0.005 * Double(total), "lost \(s.lost)")
        #expect(maxResidence <= config.maximumDelay + 1, "a packet waited \(maxResidence) ms")
        // The quantile alone is ~45 ms; recent losses add one RTT (60 ms) and the reorder delay.
        #expect(s.targetDelay >= 90 && s.targetDelay <= 150, "target \(s.targetDelay) ms")
        print("jitter buffer, 30±10 ms, 2% loss, 1% reorder: target \(s.targetDelay) ms, lost \(s.lost)/\(total), recovered \(s.recovered), NACKs \(s.nacked), late \(s.late), max wait \(maxResidence) ms")
    }

    /// The target follows the jitter up and then down again, and never passes the maximum.
    @Test func targetTracksJitterUpAndDownWithinTheBound() {
        var config = JitterBufferConfiguration(clockRate: 48_000)
        config.maximumDelay = 120
        config.nackEnabled = false
        var jb = JitterBuffer(configuration: config)
        var net = NetworkSimulator<RTPPacket>(seed: 5, baseDelayMs: 30, jitterMs: 5, loss: 0, reorder: 0)
        var targets: [Double] = []
        var maxTarget = 0.0, maxResidence = 0.0
        let phase = 1_000  // packets (20 s) per phase
        for t in stride(from: Int64(0), to: Int64(3 * phase * 20) * 1_000, by: 1_000) {
            if t % 20_000 == 0 {
                let n = Int(t / 20_000)
                net.jitterMs = n / phase == 1 ? 30 : 5
                if n % phase == 0 && n > 0 { targets.append(jb.statistics.targetDelay) }
                net.send(audioPacket(UInt16(truncatingIfNeeded: n), ts: UInt32(n) * 960), now: t)
            }
            for (a, p) in net.receive(now: t) { jb.insert(p, arrival: MediaTime(microseconds: a)) }
            for e in jb.pop(now: MediaTime(microseconds: t)) {
                if case .packet(_, let arrival) = e { maxResidence = max(maxResidence, Double(t - arrival.microseconds) / 1_000) }
            }
            maxTarget = max(maxTarget, jb.statistics.targetDelay)
        }
        targets.append(jb.statistics.targetDelay)
        #expect(targets.count == 3)
        let (calm, rough, calmAgain) = (targets[0], targets[1], targets[2])
        #expect(rough > calm + 20, "target \(calm) → \(rough) ms when jitter rose")
        #expect(calmAgain < rough - 20, "target \(rough) → \(calmAgain) ms when jitter fell")
        #expect(maxTarget <= config.maximumDelay)
        #expect(maxResidence <= config.maximumDelay + 1)
        print("jitter buffer target: ±5 ms → \(calm) ms, ±30 ms → \(rough) ms, ±5 ms → \(calmAgain) ms")
    }

    @Test func maximumDelayCapsTheTargetEvenUnderHeavyJitter() {
        var config = JitterBufferConfiguration(clockRate: 48_000)
        config.maximumDelay = 50
        config.nackEnabled = false
        var jb = JitterBuffer(configuration: config)
        var net = NetworkSimulator<RTPPacket>(seed: 9, baseDelayMs: 60, jitterMs: 40, loss: 0, reorder: 0)
        var maxResidence = 0.0
        for t in stride(from: Int64(0), to: Int64(1_000 * 20) * 1_000, by: 1_000) {
            if t % 20_000 == 0 { net.send(audioPacket(UInt16(truncatingIfNeeded: t / 20_000), ts: UInt32(t / 20_000) * 960), now: t) }
            for (a, p) in net.receive(now: t) { jb.insert(p, arrival: MediaTime(microseconds: a)) }
            for e in jb.pop(now: MediaTime(microseconds: t)) {
                if case .packet(_, let arrival) = e { maxResidence = max(maxResidence, Double(t - arrival.microseconds) / 1_000) }
            }
        }
        #expect(jb.statistics.targetDelay == 50)
        #expect(maxResidence <= 51)
        #expect(jb.statistics.late + jb.statistics.lost > 0)  // the price of the cap, counted
    }
}
