import MediaWire
import ShowroomTestSupport
import Testing

/// Feeds a million seeded random and mutated buffers to each parser. The assertion is that every
/// buffer either parses — and then re-serializes into something that parses to the same value — or
/// throws a ``WireError``; a crash fails the whole run. Seeds are fixed so a failure replays.
@Suite struct FuzzTests {
    static let iterations = 1_000_000

    /// Valid packets to mutate: the GStreamer captures plus serialized samples of every kind.
    static func corpus() throws -> [[UInt8]] {
        let dir = Fixtures.directory()
        var seeds = try Fixtures.records("gstreamer-vp8.rtp", in: dir) + Fixtures.records("gstreamer-opus.rtp", in: dir)
        seeds += try Fixtures.records("gstreamer-vp8-extensions.rtp", in: dir)
        seeds += try Fixtures.records("gstreamer-rtcp.rtcp", in: dir)
        seeds += RTCPPacketTests.samples.map { RTCPPacket.serializeCompound([$0]) }
        seeds += RTPPacketTests.samples.map { $0.serialized() }
        return seeds
    }

    /// Runs `parse` over `iterations` buffers: half fresh random bytes, half mutations of the corpus.
    static func fuzz(seed: UInt64, _ parse: ([UInt8]) throws(WireError) -> Void) throws -> (parsed: Int, rejected: Int) {
        var rng = SeededRandom(seed: seed)
        let seeds = try corpus()
        var parsed = 0, rejected = 0
        for i in 0..<iterations {
            let input: [UInt8] =
                i % 2 == 0
                ? rng.bytes(Int.random(in: 0...64, using: &rng))
                : rng.mutate(seeds[Int.random(in: 0..<seeds.count, using: &rng)])
            do {
                try parse(input)
                parsed += 1
            } catch {
                rejected += 1
            }
        }
        return (parsed, rejected)
    }

    @Test func rtp() throws {
        var mismatches = 0
        let r = try Self.fuzz(seed: 1) { (b: [UInt8]) throws(WireError) in
            let p = try RTPPacket(parsing: b)
            if (try? RTPPacket(parsing: p.serialized())) != p { mismatches += 1 }
        }
        #expect(r.parsed + r.rejected == Self.iterations)
        #expect(r.parsed > 1_000 && r.rejected > 1_000)  // both paths were exercised
        #expect(mismatches == 0)
    }

    @Test func rtcp() throws {
        var mismatches = 0
        let r = try Self.fuzz(seed: 2) { (b: [UInt8]) throws(WireError) in
            let p = try RTCPPacket.parseCompound(b)
            if (try? RTCPPacket.parseCompound(RTCPPacket.serializeCompound(p))) != p {
                if mismatches == 0 { Issue.record("RTCP did not round-trip: \(b) → \(p)") }
                mismatches += 1
            }
        }
        #expect(r.parsed > 1_000 && r.rejected > 1_000)
        #expect(mismatches == 0)
    }

    @Test func vp8Descriptor() throws {
        var mismatches = 0
        let r = try Self.fuzz(seed: 3) { (b: [UInt8]) throws(WireError) in
            let (d, len) = try VP8PayloadDescriptor.parse(b[...])
            var out: [UInt8] = []
            d.serialize(into: &out)
            out.append(0)
            if (try? VP8PayloadDescriptor.parse(out[...]))?.0 != d || len > b.count { mismatches += 1 }
            _ = VP8PayloadDescriptor.isKeyFrameStart(b[...])
        }
        #expect(r.parsed > 1_000 && r.rejected > 1_000)
        #expect(mismatches == 0)
    }

    @Test func opus() throws {
        let r = try Self.fuzz(seed: 4) { (b: [UInt8]) throws(WireError) in
            let info = try OpusPacketInfo(parsing: b)
            if info.duration <= 0 || info.duration > 5_760 { throw WireError(.invalidField, "impossible duration") }
        }
        #expect(r.parsed > 1_000 && r.rejected > 1_000)
    }

    @Test func vp8Assembler() throws {
        // The assembler takes parsed packets; feed it mutated VP8 payloads and count frames.
        var assembler = VP8FrameAssembler(maxFrameSize: 10_000)
        var seq: UInt16 = 0
        let r = try Self.fuzz(seed: 5) { (b: [UInt8]) throws(WireError) in
            seq &+= 1
            let p = RTPPacket(
                header: RTPHeader(marker: b.first.map { $0 & 1 == 1 } ?? false, payloadType: 96, sequenceNumber: seq,
                timestamp: UInt32(seq / 3), ssrc: 1), payload: b)
            if let f = assembler.push(p), f.data.count > 10_000 { throw WireError(.badLength, "frame over cap") }
        }
        #expect(r.rejected == 0)
    }
}
