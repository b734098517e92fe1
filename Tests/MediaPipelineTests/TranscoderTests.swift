import MediaCodecs
import MediaPipeline
import MediaWire
import ShowroomTestSupport
import Testing

/// A simulated publisher: encodes the test pattern live and packetizes it, with abs-capture-time
/// (id 3) on the first packet of each frame; frame i is captured at 33.333·i ms. It answers a PLI
/// with a key frame, as a browser does.
final class Publisher {
    let width: Int, height: Int
    let encoder: VP8Encoder
    var packetizer = VP8Packetizer()
    var seq: UInt16 = 60_000
    var index = 0
    var keyFrameRequested = false

    init(width: Int, height: Int) throws {
        self.width = width
        self.height = height
        encoder = try VP8Encoder(width: width, height: height, bitrate: 1_200_000)
    }

    var nextCaptureTime: Int64 { Int64(index) * 1_000_000 / 30 }

    func nextFrame(forceKeyFrame: Bool = false) throws -> [RTPPacket] {
        let i = index
        index += 1
        let t = Int64(i) * 1_000_000 / 30
        let picture = try TestPattern.video(width: width, height: height, index: i)
        let key = forceKeyFrame || keyFrameRequested
        keyFrameRequested = false
        guard let frame = try encoder.encode(picture, pts: Int64(i * 3_000), forceKeyFrame: key) else { return [] }
        var packets: [RTPPacket] = []
        for (j, payload) in packetizer.packetize(frame: frame.data).enumerated() {
            let ext = j == 0 ? RTPHeaderExtensions(elements: [RTPHeaderExtension(id: 3, data: AbsoluteCaptureTime(microseconds: t).serialized())]) : nil
            packets.append(RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: seq, timestamp: UInt32(i * 3_000), ssrc: 7, extensions: ext), payload: payload))
            seq &+= 1
        }
        packets[packets.count - 1].header.marker = true
        return packets
    }
}

func publishVideo(width: Int, height: Int, count: Int, keyEvery: Int = 1_000) throws -> [(time: Int64, packets: [RTPPacket])] {
    let publisher = try Publisher(width: width, height: height)
    return try (0..<count).map { i in (publisher.nextCaptureTime, try publisher.nextFrame(forceKeyFrame: i % keyEvery == 0)) }
}

@Suite struct VideoJitterBufferTests {
    @Test func releasesOnlyCompleteFramesAndAsksForAKeyFrameAfterALoss() throws {
        let frames = try publishVideo(width: 160, height: 120, count: 60, keyEvery: 20)
        var config = JitterBufferConfiguration(clockRate: 90_000)
        config.nackEnabled = false
        config.minimumDelay = 30
        var vjb = VideoJitterBuffer(configuration: config)
        // Drop one packet of frame 5: frames 5–19 cannot be decoded; 20 is a key frame.
        var released: [VP8FrameAssembler.Frame] = []
        var keyFrameRequests = 0
        for (i, f) in frames.enumerated() {
            for (j, p) in f.packets.enumerated() where !(i == 5 && j == 0) {
                vjb.insert(p, arrival: MediaTime(microseconds: f.time + 20_000))
            }
            for o in vjb.pop(now: MediaTime(microseconds: f.time + 20_000)) {
                switch o {
                case .frame(let frame, _, _): released.append(frame)
                case .requestKeyFrame: keyFrameRequests += 1
                }
            }
        }
        for o in vjb.pop(now: MediaTime(microseconds: 10_000_000)) { if case .frame(let f, _, _) = o { released.append(f) } }
        let timestamps = released.map { Int($0.timestamp) / 3_000 }
        #expect(timestamps == Array(0..<5) + Array(20..<60))
        #expect(keyFrameRequests >= 1)
        #expect(vjb.framesDropped == 14)
        // Every released frame is byte for byte what the publisher encoded.
        let decoder = try VP8Decoder()
        for f in released { _ = try decoder.decode(f.data) }
    }
}

@Suite struct TranscoderTests {
    /// 640×360 → 320×180 at 300 kbit/s through a 30 ± 10 ms path with 2% loss and NACK.
    @Test func videoTranscodeKeepsQualityTimingAndCaptureTime() throws {
        let publisher = try Publisher(width: 640, height: 360)
        var config = VideoTranscoder.Configuration(width: 320, height: 180, bitrate: 300_000, ssrc: 0x5151, captureTimeExtensionID: 3)
        config.jitterBuffer.maximumDelay = 150
        let transcoder = try VideoTranscoder(config)
        transcoder.setRoundTripTime(milliseconds: 60)
        var net = NetworkSimulator<RTPPacket>(seed: 3, baseDelayMs: 30, jitterMs: 10, loss: 0.02, reorder: 0.01)
        var sentPackets: [UInt16: RTPPacket] = [:]
        var retransmits: [(at: Int64, seq: UInt16)] = []
        var output: [RTPPacket] = []
        var frames: [TranscodedFrame] = []
        var emitted: [UInt32: Int64] = [:]
        var keyFramesAsked = 0
        for t in stride(from: Int64(0), through: 6_000_000, by: 1_000) {
            while publisher.index < 150 && publisher.nextCaptureTime <= t {
                for p in try publisher.nextFrame() {
                    sentPackets[p.header.sequenceNumber] = p
                    net.send(p, now: t)
                }
            }
            for r in retransmits where r.at <= t { net.send(sentPackets[r.seq]!, now: t) }
            retransmits.removeAll { $0.at <= t }
            for (a, p) in net.receive(now: t) { transcoder.receive(p, arrival: MediaTime(microseconds: a)) }
            let out = transcoder.process(now: MediaTime(microseconds: t))
            for seq in out.nack { retransmits.append((t + 30_000, seq)) }
            if out.requestKeyFrame {
                keyFramesAsked += 1
                publisher.keyFrameRequested = true  // the PLI reaches the publisher
            }
            output += out.packets
            for f in out.frames { emitted[f.timestamp] = t }
            frames += out.frames
        }
        // Decode what came out and compare with the source scaled the same way.
        var assembler = VP8FrameAssembler()
        let decoder = try VP8Decoder()
        var psnrs: [Double] = []
        var carried = 0
        for p in output {
            #expect(p.header.ssrc == 0x5151)
            if let data = p.header.extensions?[3], let c = try? AbsoluteCaptureTime(parsing: data) {
                #expect(abs(c.microseconds - Int64(p.header.timestamp / 3_000) * 1_000_000 / 30) <= 1)
                carried += 1
            }
            guard let f = assembler.push(p) else { continue }
            let picture = try decoder.decode(f.data)
            #expect(picture.width == 320 && picture.height == 180)
            let reference = try TestPattern.video(width: 640, height: 360, index: Int(f.timestamp) / 3_000).scaled(width: 320, height: 180)
            psnrs.append(picture.psnr(against: reference))
        }
        let meanPSNR = psnrs.reduce(0, +) / Double(max(psnrs.count, 1))
        #expect(psnrs.count >= 140, "only \(psnrs.count) of 150 frames came out")
        #expect(carried == psnrs.count)
        #expect(meanPSNR > 28, "mean PSNR \(meanPSNR) dB")
        #expect(assembler.droppedFrames == 0)
        // Latency: from capture to leaving the transcoder, on the injected clock, plus processing.
        let latencies = frames.compactMap { f -> Double? in
            guard let c = f.captureTime, let at = emitted[f.timestamp] else { return nil }
            return Double(at - c) / 1_000 + f.stages.decode + f.stages.scale + f.stages.encode + f.stages.packetize
        }.sorted()
        let p95 = latencies[Int(Double(latencies.count) * 0.95)]
        #expect(p95 < 200, "p95 capture → transcoded \(p95) ms")
        let mean = transcoder.statistics.meanStages
        #expect(mean.jitterWait <= 150)
        print("video 640x360→320x180@300k over 30±10 ms/2% loss: \(psnrs.count) frames, PSNR \(meanPSNR) dB, p95 capture→out \(p95) ms, stages ms: wait \(mean.jitterWait) decode \(mean.decode) scale \(mean.scale) encode \(mean.encode) packetize \(mean.packetize), NACKs \(transcoder.jitterStatistics.nacked), lost \(transcoder.jitterStatistics.lost), PLIs \(keyFramesAsked)")
    }

    @Test func keyFrameRequestFromASubscriberForcesOneFromTheBranch() throws {
        let input = try publishVideo(width: 320, height: 180, count: 40)
        var config = VideoTranscoder.Configuration(width: 160, height: 90, bitrate: 150_000, ssrc: 1)
        config.jitterBuffer.minimumDelay = 0
        let transcoder = try VideoTranscoder(config)
        var keyFrames: [Int] = []
        for (i, f) in input.enumerated() {
            for p in f.packets { transcoder.receive(p, arrival: MediaTime(microseconds: f.time)) }
            if i == 25 { transcoder.requestKeyFrame() }
            for p in transcoder.process(now: MediaTime(microseconds: f.time + 50_000)).packets where VP8PayloadDescriptor.isKeyFrameStart(p.payload[...]) {
                keyFrames.append(Int(p.header.timestamp) / 3_000)
            }
        }
        #expect(keyFrames.first == 0)
        #expect(keyFrames.contains { $0 >= 25 && $0 <= 27 }, "key frames at \(keyFrames)")
    }

    /// A subscriber asking on every frame gets a key frame only every 500 ms (15 frames at 30 fps).
    @Test func keyFrameRequestsAreRateLimited() throws {
        let input = try publishVideo(width: 320, height: 180, count: 60)
        var config = VideoTranscoder.Configuration(width: 160, height: 90, bitrate: 150_000, ssrc: 1)
        config.jitterBuffer.minimumDelay = 0
        let transcoder = try VideoTranscoder(config)
        var keyFrames: [Int] = []
        for f in input {
            for p in f.packets { transcoder.receive(p, arrival: MediaTime(microseconds: f.time)) }
            transcoder.requestKeyFrame()
            for p in transcoder.process(now: MediaTime(microseconds: f.time)).packets where VP8PayloadDescriptor.isKeyFrameStart(p.payload[...]) {
                keyFrames.append(Int(p.header.timestamp) / 3_000)
            }
        }
        let gaps = zip(keyFrames, keyFrames.dropFirst()).map { $1 - $0 }
        #expect(keyFrames.count >= 3, "key frames at \(keyFrames)")
        #expect(gaps.allSatisfy { $0 >= 15 }, "key frames at \(keyFrames)")
    }

    /// A sender that attaches the capture time to one frame in 30 (as libwebrtc does, about once a
    /// second): every output frame still carries one, extrapolated along the RTP clock, and the
    /// output packets carry it under the configured id.
    @Test func captureTimeIsExtrapolatedBetweenSparseExtensions() throws {
        let input = try publishVideo(width: 320, height: 180, count: 70)
        var config = VideoTranscoder.Configuration(width: 160, height: 90, bitrate: 150_000, ssrc: 1, captureTimeExtensionID: 3)
        config.jitterBuffer.minimumDelay = 0
        let transcoder = try VideoTranscoder(config)
        var frames: [TranscodedFrame] = []
        var carried: [UInt32: Int64] = [:]
        for (i, f) in input.enumerated() {
            for var p in f.packets {
                if i % 30 != 0 { p.header.extensions = nil }
                transcoder.receive(p, arrival: MediaTime(microseconds: f.time))
            }
            let o = transcoder.process(now: MediaTime(microseconds: f.time + 40_000))
            frames += o.frames
            for p in o.packets { if let t = AbsoluteCaptureTime(in: p.header, id: 3) { carried[p.header.timestamp] = t.microseconds } }
        }
        #expect(frames.count >= 65)
        for f in frames {
            let expected = Int64(f.timestamp / 3_000) * 1_000_000 / 30
            #expect(abs((f.captureTime ?? -1_000_000) - expected) <= 1, "frame \(f.timestamp / 3_000)")
            #expect(carried[f.timestamp] == f.captureTime)
        }
    }

    /// 48 kHz stereo 64 kbit/s → mono 24 kbit/s over the reference path.
    @Test func audioTranscodeKeepsTheSignal() throws {
        let encoder = try OpusEncoder(channels: 2, bitrate: 64_000)
        let pcm = TestPattern.audio(sampleRate: 48_000, channels: 2, start: 0, count: 48_000 * 4)
        var config = AudioTranscoder.Configuration(ssrc: 9, outputChannels: 1, bitrate: 24_000, captureTimeExtensionID: 3)
        config.jitterBuffer.maximumDelay = 150
        let transcoder = try AudioTranscoder(config)
        var net = NetworkSimulator<RTPPacket>(seed: 21, baseDelayMs: 30, jitterMs: 10, loss: 0, reorder: 0.01)
        var out: [RTPPacket] = []
        var frames: [TranscodedFrame] = []
        for t in stride(from: Int64(0), through: 4_500_000, by: 1_000) {
            if t % 20_000 == 0 && t / 20_000 < 200 {
                let i = Int(t / 20_000)
                let payload = try encoder.encode(Array(pcm[(i * 1_920)..<((i + 1) * 1_920)]))
                let ext = RTPHeaderExtensions(elements: [RTPHeaderExtension(id: 3, data: AbsoluteCaptureTime(microseconds: t).serialized())])
                net.send(RTPPacket(header: RTPHeader(payloadType: 111, sequenceNumber: UInt16(i), timestamp: UInt32(i * 960), ssrc: 4, extensions: ext), payload: payload), now: t)
            }
            for (a, p) in net.receive(now: t) { transcoder.receive(p, arrival: MediaTime(microseconds: a)) }
            let o = transcoder.process(now: MediaTime(microseconds: t))
            out += o.packets
            frames += o.frames
        }
        #expect(out.count >= 195)
        let bytes = out.reduce(0) { $0 + $1.payload.count }
        let kbps = Double(bytes * 8) / (Double(out.count) * 0.02) / 1_000
        #expect(kbps > 16 && kbps < 32, "\(kbps) kbit/s")
        // Capture time moves with the RTP timestamp.
        for f in frames { #expect(f.captureTime == Int64(f.timestamp) * 1_000_000 / 48_000) }
        // Decode and compare with the mono mix of the input, aligned by search (two encoders' lookahead).
        let decoder = try OpusDecoder(channels: 1)
        var decoded: [Int16] = []
        for p in out { decoded += try decoder.decode(p.payload) }
        var mono = [Int16](repeating: 0, count: pcm.count / 2)
        for i in mono.indices { mono[i] = Int16((Int32(pcm[2 * i]) + Int32(pcm[2 * i + 1])) / 2) }
        var best = (shift: 0, snr: -Double.infinity)
        for shift in stride(from: 0, through: 1_500, by: 4) {
            let n = 48_000 * 2
            let q = snr(mono[24_000..<(24_000 + n)], decoded[(24_000 + shift)..<(24_000 + shift + n)])
            if q > best.snr { best = (shift, q) }
        }
        #expect(best.snr > 8, "SNR \(best.snr) dB at shift \(best.shift)")
        let mean = transcoder.statistics.meanStages
        print("audio stereo 64k → mono 24k: \(kbps) kbit/s, SNR \(best.snr) dB (alignment \(best.shift) samples), stages ms: wait \(mean.jitterWait) decode \(mean.decode) encode \(mean.encode)")
    }
}

func snr(_ reference: ArraySlice<Int16>, _ decoded: ArraySlice<Int16>) -> Double {
    var signal = 0.0, noise = 0.0
    for (a, b) in zip(reference, decoded) {
        signal += Double(a) * Double(a)
        noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
    }
    return noise == 0 ? .infinity : 10 * log10(signal / noise)
}

#if canImport(Glibc)
import Glibc
#endif
