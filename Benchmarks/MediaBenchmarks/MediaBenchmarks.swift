import Benchmark
import MediaCodecs
import MediaCrypto
import MediaPipeline
import MediaWire

/// `swift package benchmark` — wall time and malloc counts (not the ARC metrics, which crash on
/// Linux here). Benchmarks whose name ends in "×1000" run 1000 operations per iteration, so their
/// times read as nanoseconds per operation when the table says µs.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal], warmupIterations: 3, maxDuration: .seconds(3),
        maxIterations: 10_000)

    let kilo = Benchmark.Configuration(scalingFactor: .kilo)

    // MARK: Wire formats

    let rtpBytes = RTPPacket(
        header: RTPHeader(
            marker: true, payloadType: 96, sequenceNumber: 1_234, timestamp: 90_000, ssrc: 0xCAFE,
            extensions: RTPHeaderExtensions(elements: [
                RTPHeaderExtension(id: 1, data: [1, 2, 3]), RTPHeaderExtension(id: 3, data: Array(repeating: 9, count: 8)),
            ])),
        payload: Array(repeating: 0x55, count: 1_160)
    ).serialized()

    Benchmark("RTP parse+serialize 1200 B ×1000", configuration: kilo) { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(1_500)
        for _ in benchmark.scaledIterations {
            guard let p = try? RTPPacket(parsing: rtpBytes) else { continue }
            out.removeAll(keepingCapacity: true)
            p.serialize(into: &out)
            blackHole(out.count)
        }
    }

    // MARK: SRTP

    let key = Array(UInt8(0)..<16), salt = Array(UInt8(16)..<30)
    /// Protects the same 1200-byte packet with a new sequence number each time, in place.
    func protectBenchmark(_ name: String, _ material: SRTPKeyingMaterial?, backend: SRTPSession.Backend = .automatic) {
        Benchmark(name, configuration: kilo) { benchmark in
            guard let material, let session = try? SRTPSession(material, direction: .outbound, backend: backend) else { return }
            var buffer = [UInt8](repeating: 0, count: 1_500)
            var seq: UInt16 = 0
            benchmark.startMeasurement()
            buffer.withUnsafeMutableBytes { buf in
                for _ in benchmark.scaledIterations {
                    rtpBytes.withUnsafeBytes { buf.copyMemory(from: $0) }
                    seq &+= 1
                    buf[2] = UInt8(seq >> 8)
                    buf[3] = UInt8(seq & 0xFF)
                    blackHole(try? session.protectRTP(buf, length: rtpBytes.count))
                }
            }
        }
    }
    let cm = try? SRTPKeyingMaterial(profile: .aes128CmHmacSha1_80, masterKey: key, masterSalt: salt)
    protectBenchmark("SRTP protect 1200 B ×1000", cm)
    protectBenchmark("SRTP protect 1200 B libsrtp ×1000", cm, backend: .libsrtp)
    protectBenchmark(
        "SRTP protect 1200 B AEAD-GCM ×1000",
        try? SRTPKeyingMaterial(profile: .aeadAes128Gcm, masterKey: key, masterSalt: Array(salt.prefix(12))))

    Benchmark("SRTP unprotect 1200 B ×1000", configuration: kilo) { benchmark in
        guard let material = try? SRTPKeyingMaterial(profile: .aes128CmHmacSha1_80, masterKey: key, masterSalt: salt),
            let sender = try? SRTPSession(material, direction: .outbound),
            let receiver = try? SRTPSession(material, direction: .inbound)
        else { return }
        // Every packet must be new to the receiver's replay window: protect them all first.
        var packets: [[UInt8]] = []
        for i in benchmark.scaledIterations {
            var p = rtpBytes
            p[2] = UInt8((i >> 8) & 0xFF)
            p[3] = UInt8(i & 0xFF)
            try? sender.protectRTP(&p)
            packets.append(p + [UInt8](repeating: 0, count: 16))
        }
        let length = rtpBytes.count + 10
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            packets[i].withUnsafeMutableBytes { blackHole(try? receiver.unprotectRTP($0, length: length)) }
        }
    }

    // MARK: Jitter buffer

    Benchmark("Jitter buffer insert+pop ×1000", configuration: kilo) { benchmark in
        var jb = JitterBuffer(configuration: JitterBufferConfiguration(clockRate: 48_000))
        let payload = [UInt8](repeating: 1, count: 100)
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let p = RTPPacket(
                header: RTPHeader(payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: n), timestamp: UInt32(n * 960), ssrc: 1),
                payload: payload)
            let t = MediaTime(microseconds: Int64(n) * 20_000 + 30_000)
            jb.insert(p, arrival: t)
            blackHole(jb.pop(now: t))
            n += 1
        }
    }

    // MARK: Codecs

    let stereo20ms = TestPattern.audio(sampleRate: 48_000, channels: 2, start: 0, count: 960)
    Benchmark("Opus encode 20 ms 48k stereo 64 kbit/s") { benchmark in
        guard let encoder = try? OpusEncoder(channels: 2, bitrate: 64_000) else { return }
        var out = [UInt8](repeating: 0, count: 1_500)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try? encoder.encode(stereo20ms, into: &out)) }
    }

    Benchmark("Opus decode 20 ms 48k stereo") { benchmark in
        guard let encoder = try? OpusEncoder(channels: 2, bitrate: 64_000), let decoder = try? OpusDecoder(channels: 2),
            let packet = try? encoder.encode(stereo20ms)
        else { return }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try? decoder.decode(packet)) }
    }

    let frames640 = (0..<30).compactMap { try? TestPattern.video(width: 640, height: 360, index: $0) }
    Benchmark("VP8 encode 640x360 (realtime, cpu-used 8)") { benchmark in
        guard let encoder = try? VP8Encoder(width: 640, height: 360, bitrate: 800_000) else { return }
        var i = 0
        for f in frames640.prefix(5) { _ = try? encoder.encode(f, pts: Int64(i * 3_000)); i += 1 }  // past the key frame
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? encoder.encode(frames640[i % frames640.count], pts: Int64(i * 3_000)))
            i += 1
        }
    }

    Benchmark("VP8 decode 640x360") { benchmark in
        guard let encoder = try? VP8Encoder(width: 640, height: 360, bitrate: 800_000), let decoder = try? VP8Decoder() else { return }
        let encoded = frames640.enumerated().compactMap { try? encoder.encode($1, pts: Int64($0 * 3_000))?.data }
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // Decode the sequence in order; restart at the key frame.
            if i == encoded.count { i = 0 }
            blackHole(try? decoder.decode(encoded[i]))
            i += 1
        }
    }

    // MARK: Transcode steps (jitter buffer → decode → scale → encode → packetize)

    /// The 30-frame 640×360 clip as a publisher would send it (VP8 1 Mbit/s, first frame a key
    /// frame), packetized; `packets(n)` is frame n of the clip looped, with continuous seq/ts.
    struct VideoInput {
        let clip: [[RTPPacket]]
        var seq: UInt16 = 0

        init(frames: [I420Frame]) {
            var packetizer = VP8Packetizer()
            let encoder = try? VP8Encoder(width: 640, height: 360, bitrate: 1_000_000)
            clip = frames.enumerated().map { i, f in
                let data = (try? encoder?.encode(f, pts: Int64(i * 3_000), forceKeyFrame: i == 0))??.data ?? []
                return packetizer.packetize(frame: data).map { payload in
                    RTPPacket(header: RTPHeader(payloadType: 96, sequenceNumber: 0, timestamp: 0, ssrc: 1), payload: payload)
                }
            }
        }

        mutating func packets(_ n: Int) -> [RTPPacket] {
            let source = clip[n % clip.count]
            defer { seq &+= UInt16(source.count) }
            return source.enumerated().map { j, p in
                var p = p
                p.header.sequenceNumber = seq &+ UInt16(j)
                p.header.timestamp = UInt32(n * 3_000)
                p.header.marker = j == source.count - 1
                return p
            }
        }
    }

    /// 20 ms Opus packets of 48 kHz stereo at 64 kbit/s; `packet(n)` is tick n's RTP packet.
    struct AudioInput {
        let payloads: [[UInt8]]

        init() {
            let encoder = try? OpusEncoder(channels: 2, bitrate: 64_000)
            payloads = (0..<50).compactMap { i in
                try? encoder?.encode(TestPattern.audio(sampleRate: 48_000, channels: 2, start: i * 960, count: 960))
            }
        }

        func packet(_ n: Int) -> RTPPacket {
            RTPPacket(
                header: RTPHeader(payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: n), timestamp: UInt32(truncatingIfNeeded: n * 960), ssrc: 5),
                payload: payloads[n % payloads.count])
        }
    }

    /// The `low` rendition's codecs.
    func lowVideo(_ ssrc: UInt32) -> VideoTranscoder? { try? VideoTranscoder(.init(width: 320, height: 180, bitrate: 225_000, ssrc: ssrc)) }
    func lowAudio(_ ssrc: UInt32) -> AudioTranscoder? { try? AudioTranscoder(.init(ssrc: ssrc, outputChannels: 1, bitrate: 24_000)) }
    func tick(_ n: Int, frameMicroseconds: Int64) -> (arrival: MediaTime, process: MediaTime) {
        let t = MediaTime(microseconds: Int64(n) * frameMicroseconds)
        return (t, t + .milliseconds(200))
    }

    Benchmark("Transcode step video 640x360→320x180 (one frame)") { benchmark in
        guard let transcoder = lowVideo(2) else { return }
        var input = VideoInput(frames: frames640)
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let t = tick(n, frameMicroseconds: 33_333)
            for p in input.packets(n) { transcoder.receive(p, arrival: t.arrival) }
            blackHole(transcoder.process(now: t.process))
            n += 1
        }
    }

    Benchmark("Transcode step audio Opus 48k stereo 64k → mono 24k (20 ms)") { benchmark in
        guard let transcoder = lowAudio(3) else { return }
        let input = AudioInput()
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let t = tick(n, frameMicroseconds: 20_000)
            transcoder.receive(input.packet(n), arrival: t.arrival)
            blackHole(transcoder.process(now: t.process))
            n += 1
        }
    }

    // MARK: Concurrent transcodes on one core: one tick of many independent branches

    // Each iteration is one frame interval for every branch, one after the other on this thread:
    // when an iteration takes less than the interval (33.3 ms video, 20 ms audio), that many
    // branches fit on one core. Every branch has its own codecs (cache pressure included).
    Benchmark("Concurrent transcodes: 10 video 640x360→320x180 branches, one 33.3 ms tick") { benchmark in
        let branches = (0..<10).compactMap { lowVideo(UInt32(10 + $0)) }
        var input = VideoInput(frames: frames640)
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let t = tick(n, frameMicroseconds: 33_333)
            let packets = input.packets(n)
            for branch in branches {
                for p in packets { branch.receive(p, arrival: t.arrival) }
                blackHole(branch.process(now: t.process))
            }
            n += 1
        }
    }

    Benchmark("Concurrent transcodes: 200 audio 48k stereo 64k → mono 24k branches, one 20 ms tick") { benchmark in
        let branches = (0..<200).compactMap { lowAudio(UInt32(100 + $0)) }
        let input = AudioInput()
        var n = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let t = tick(n, frameMicroseconds: 20_000)
            let p = input.packet(n)
            for branch in branches {
                branch.receive(p, arrival: t.arrival)
                blackHole(branch.process(now: t.process))
            }
            n += 1
        }
    }
}
