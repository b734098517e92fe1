import MediaCodecs
import MediaPipeline
import MediaWire
import ShowroomTestSupport
import Testing

/// What a publisher controls — sequence numbers, timestamps, payloads — chosen by an attacker:
/// the per-stream state machines fed from the wire must neither trap nor do unbounded work.
@Suite struct HostileStreamTests {
    /// The attack from the review: each packet's timestamp 0x7FFFFFFF after the last (the most the
    /// unwrapper reads as forward). `(ts - first) * 1_000_000` overflowed Int64 after ~4,300 packets.
    @Test(arguments: [UInt32(0x7FFF_FFFF), 0x8000_0001, 0x0100_0000, 810_000])
    func timestampStepsNeitherTrapNorStopPlayout(step: UInt32) {
        var jb = JitterBuffer(configuration: JitterBufferTests.config)
        var ts: UInt32 = 1
        for i in 0..<20_000 {
            let now = ms(Double(i) * 20)
            jb.insert(audioPacket(UInt16(truncatingIfNeeded: i), ts: ts), arrival: now)
            _ = jb.pop(now: now)
            _ = jb.nackList(now: now)
            ts &+= step
        }
        // Every jump is a new stream: the buffer starts over each time.
        #expect(jb.statistics.resets > 1_000)
        // And once the sender behaves, it plays again.
        var released = 0
        for i in 20_000..<20_050 {
            let now = ms(Double(i) * 20)
            jb.insert(audioPacket(UInt16(truncatingIfNeeded: i), ts: ts), arrival: now)
            released += sequences(jb.pop(now: now)).count
            ts &+= 960
        }
        #expect(released > 40)
    }

    /// A jump of a few seconds and more resets; the stream then plays on at its new clock, with
    /// the normal delay (not seconds of it, and not a freeze).
    @Test func aTimestampJumpResetsTheBufferAndPlayoutContinues() {
        var jb = JitterBuffer(configuration: JitterBufferTests.fixed)
        for i in 0..<50 { jb.insert(audioPacket(UInt16(i), ts: UInt32(i * 960)), arrival: ms(30 + Double(i) * 20)) }
        #expect(sequences(jb.pop(now: ms(30 + 49 * 20 + 40))).count == 50)
        // The sender's clock leaps 10 minutes ahead (a new encoder, or an attacker).
        for i in 50..<100 {
            jb.insert(audioPacket(UInt16(i), ts: UInt32(48_000 * 600 + i * 960)), arrival: ms(30 + Double(i) * 20))
        }
        #expect(jb.statistics.resets == 1)
        let out = sequences(jb.pop(now: ms(30 + 99 * 20 + 40)))
        #expect(out == Array(50..<100).map(UInt16.init))
        #expect(jb.statistics.currentDelay <= 40)
        // And backwards.
        for i in 100..<110 { jb.insert(audioPacket(UInt16(i), ts: UInt32(i * 960)), arrival: ms(30 + Double(i) * 20)) }
        #expect(jb.statistics.resets == 2)
        #expect(sequences(jb.pop(now: ms(30 + 109 * 20 + 40))) == Array(100..<110).map(UInt16.init))
    }

    /// Timestamps that run far faster than the arrival clock in steps under the jump limit
    /// (9 s of media per 20 ms packet) would also grow the buffer's media time without end.
    @Test func aClockRacingAheadOfArrivalsIsReadAsJumps() {
        var jb = JitterBuffer(configuration: JitterBufferTests.config)
        var ts: UInt32 = 0
        for i in 0..<5_000 {
            jb.insert(audioPacket(UInt16(truncatingIfNeeded: i), ts: ts), arrival: ms(Double(i) * 20))
            _ = jb.pop(now: ms(Double(i) * 20))
            ts &+= 48_000 * 9
        }
        #expect(jb.statistics.resets > 1_000)
    }

    /// Sequence numbers that leap half the range each packet: bounded work per packet (it took
    /// 177 s for these 20,000 packets in a debug build when each leap swept 32,767 slots).
    @Test func sequenceLeapsAreBoundedWork() {
        var jb = JitterBuffer(configuration: JitterBufferTests.config)
        let clock = ContinuousClock()
        let started = clock.now
        for i in 0..<20_000 {
            let seq = UInt16(truncatingIfNeeded: i * 32_767)
            jb.insert(audioPacket(seq, ts: UInt32(i * 960)), arrival: ms(Double(i) * 20))
            _ = jb.pop(now: ms(Double(i) * 20))
            _ = jb.nackList(now: ms(Double(i) * 20))
        }
        // 20,000 packets: well under a second even in a debug build (each packet touches at most
        // the buffer's capacity of slots).
        #expect(clock.now - started < .seconds(10))
    }

    /// The Opus playout conceals a lost run of at most ``AudioJitterBuffer/maximumConcealedFrames``
    /// frames: a gap of hundreds of packets (a sequence leap) must not become seconds of
    /// concealment decoded and sent at once.
    @Test func aLongAudioGapIsNotConcealedFrameByFrame() {
        var jb = AudioJitterBuffer(configuration: JitterBufferTests.config)
        for i in 0..<10 { jb.insert(audioPacket(UInt16(i)), arrival: ms(30 + Double(i) * 20)) }
        // 1,000 packets missing, then the stream goes on.
        for i in 1_010..<1_020 { jb.insert(audioPacket(UInt16(i)), arrival: ms(30 + Double(i) * 20)) }
        var concealed = 0
        for t in stride(from: 0.0, through: 30 + 1_020 * 20 + 200, by: 20) {
            for case .conceal(let samples) in jb.pop(now: ms(t)) { concealed += samples }
        }
        #expect(concealed <= AudioJitterBuffer.maximumConcealedFrames * 960)
    }

    /// The transcoders behind a rendition, fed a real VP8 and Opus stream whose timestamps leap:
    /// no trap, and output resumes after each leap.
    @Test func transcodersSurviveLeapingTimestamps() throws {
        let video = try VideoTranscoder(.init(width: 160, height: 90, bitrate: 150_000, ssrc: 5))
        let publisher = try Publisher(width: 320, height: 180)
        let audio = try AudioTranscoder(.init(ssrc: 6))
        let opus = try OpusEncoder(channels: 2, bitrate: 64_000)
        let pcm = TestPattern.audio(sampleRate: 48_000, channels: 2, start: 0, count: 1_920)
        let opusPayload = try opus.encode(pcm)
        var videoOut = 0, audioOut = 0
        for i in 0..<300 {
            let now = MediaTime(microseconds: Int64(i) * 33_333)
            let leap = UInt32(truncatingIfNeeded: i / 30) &* 0x7FFF_FFFF  // a leap every second
            for var p in try publisher.nextFrame(forceKeyFrame: i % 30 == 0) {
                p.header.timestamp &+= leap
                video.receive(p, arrival: now)
            }
            audio.receive(
                RTPPacket(
                    header: RTPHeader(payloadType: 111, sequenceNumber: UInt16(i), timestamp: UInt32(i * 960) &+ leap, ssrc: 4),
                    payload: opusPayload), arrival: now)
            videoOut += video.process(now: now).frames.count
            audioOut += audio.process(now: now).frames.count
        }
        #expect(video.jitterStatistics.resets >= 9)
        #expect(videoOut > 200)
        #expect(audioOut > 100)
    }

    /// Packets that continue a frame never started (S = 0) or never end (no marker), all of one
    /// timestamp: the assembler drops them, and the packets held for the frame must go too.
    @Test func packetsOfAFrameThatNeverCompletesAreNotHeldForever() {
        var jb = VideoJitterBuffer()
        for i in 0..<20_000 {
            // VP8 payload descriptor with S = 0 (a continuation), then a few bytes.
            let p = RTPPacket(
                header: RTPHeader(payloadType: 96, sequenceNumber: UInt16(truncatingIfNeeded: i), timestamp: 3_000, ssrc: 1),
                payload: [0x00, 1, 2, 3, 4, 5, 6, 7])
            jb.insert(p, arrival: ms(Double(i)))
            _ = jb.pop(now: ms(Double(i) + 200))
        }
        #expect(jb.heldPackets < 100, "\(jb.heldPackets) packets held for a frame that never completes")
    }
}
