import MediaWire
import Testing
import WebRTCClient

/// VP8 payloads as a packetizer makes them: a descriptor, then data whose first byte says key
/// frame (P = 0) or not.
private func frame(_ key: Bool, packets: Int) -> [[UInt8]] {
    var p = VP8Packetizer(maxPayloadSize: 100)
    let data = [key ? 0x10 : 0x11] + [UInt8](repeating: 0xAA, count: 95 * packets - 1)
    let out = p.packetize(frame: data)
    precondition(out.count == packets)
    return out
}

/// Feeds frames of `packets` packets each, 33 ms apart; `skip` drops sequence numbers.
private struct Feed {
    var monitor = ReceiveMonitor()
    var seq: UInt16 = 65_530  // wraps during the test
    var now: Int64 = 1_000_000
    var rendered: [ReceiveMonitor.RenderedFrame] = []
    var held: [(UInt16, UInt32, Bool, [UInt8])] = []

    mutating func send(index: Int, key: Bool, packets: Int = 3, skip: Set<Int> = [], capture: Int64? = nil) {
        let payloads = frame(key, packets: packets)
        for (i, payload) in payloads.enumerated() {
            seq &+= 1
            let marker = i == payloads.count - 1
            if skip.contains(i) {
                held.append((seq, UInt32(index * 3_000), marker, payload))
                continue
            }
            rendered += monitor.receiveVideo(
                sequenceNumber: seq, timestamp: UInt32(index * 3_000), marker: marker, payload: payload[...],
                captureMicros: capture ?? now - 40_000, size: payload.count + 12, now: now)
        }
        now += 33_333
    }

    /// Delivers what `send` held back (a retransmission).
    mutating func deliverHeld() {
        for (s, ts, marker, payload) in held {
            rendered += monitor.receiveVideo(
                sequenceNumber: s, timestamp: ts, marker: marker, payload: payload[...], captureMicros: nil, size: payload.count + 12, now: now)
        }
        held = []
    }
}

@Suite struct ReceiveMonitorTests {
    @Test func framesInOrderRenderWithTheirGlassToGlassLatency() {
        var f = Feed()
        f.send(index: 0, key: true)
        for i in 1..<30 { f.send(index: i, key: false) }
        #expect(f.rendered.count == 30)
        #expect(f.rendered.allSatisfy { $0.glassToGlassMicros == 40_000 })
        #expect(f.rendered.first?.isKeyFrame == true)
        #expect(f.monitor.freezes == 0)
        #expect(f.monitor.video.cumulativeLost == 0)
        let pli = f.monitor.shouldSendPLI(now: f.now)
        #expect(pli == false)
    }

    @Test func deltaFramesWaitForAKeyFrameAndAskForOne() {
        var f = Feed()
        f.send(index: 0, key: false)
        f.send(index: 1, key: false)
        #expect(f.rendered.isEmpty)
        let first = f.monitor.shouldSendPLI(now: f.now), again = f.monitor.shouldSendPLI(now: f.now + 1_000)
        #expect(first)
        #expect(again == false, "at most one PLI per interval")
        f.send(index: 2, key: true)
        f.send(index: 3, key: false)
        #expect(f.rendered.count == 2)
        #expect(f.monitor.abandonedFrames == 2)
    }

    @Test func aLostPacketIsNackedAndItsRetransmissionLetsTheFramesRender() {
        var f = Feed()
        f.send(index: 0, key: true)
        f.send(index: 1, key: false, skip: [1])
        f.send(index: 2, key: false)
        #expect(f.rendered.count == 1, "frame 1 is incomplete and frame 2 depends on it")
        let nacks = f.monitor.nacks(now: f.now)
        #expect(nacks.count == 1)
        let early = f.monitor.nacks(now: f.now + 10_000), later = f.monitor.nacks(now: f.now + 100_000)
        #expect(early.isEmpty, "not again before the NACK interval")
        #expect(later.count == 1)
        f.deliverHeld()
        #expect(f.rendered.count == 3)
        #expect(f.monitor.recoveredPackets == 1)
        #expect(f.monitor.video.cumulativeLost == 0)
    }

    @Test func aPacketNeverRepairedIsGivenUpForAKeyFrameAndTheGapIsAFreeze() {
        var f = Feed()
        f.send(index: 0, key: true)
        f.send(index: 1, key: false, skip: [0])
        for i in 2..<20 { f.send(index: i, key: false) }
        #expect(f.rendered.count == 1)
        _ = f.monitor.nacks(now: f.now)
        _ = f.monitor.nacks(now: f.now + 1_100_000)  // given up
        let pli = f.monitor.shouldSendPLI(now: f.now + 1_100_000)
        #expect(pli)
        f.now += 1_100_000
        f.send(index: 60, key: true)
        #expect(f.rendered.count == 2)
        #expect(f.monitor.freezes == 1)
        #expect(f.monitor.video.cumulativeLost == 1)
        #expect((f.rendered.last?.gapMicros ?? 0) > 1_000_000)
    }
}
