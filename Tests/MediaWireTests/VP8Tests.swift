import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct VP8Tests {
    static let descriptors: [VP8PayloadDescriptor] = [
        VP8PayloadDescriptor(startOfPartition: true),
        VP8PayloadDescriptor(nonReference: true, startOfPartition: false, partitionIndex: 3),
        VP8PayloadDescriptor(startOfPartition: true, pictureID: .short(0x55)),
        VP8PayloadDescriptor(startOfPartition: true, pictureID: .long(0x7ABC)),
        VP8PayloadDescriptor(
            startOfPartition: true, pictureID: .long(1), tl0PicIndex: 200, temporalLayer: 2, layerSync: true,
            keyIndex: 17),
        VP8PayloadDescriptor(startOfPartition: false, keyIndex: 3),
        VP8PayloadDescriptor(startOfPartition: false, tl0PicIndex: 0),
    ]

    @Test(arguments: descriptors)
    func descriptorRoundTrips(_ d: VP8PayloadDescriptor) throws {
        var bytes: [UInt8] = []
        d.serialize(into: &bytes)
        #expect(bytes.count == d.serializedSize)
        bytes.append(0x10)  // one byte of VP8 data
        let (parsed, length) = try VP8PayloadDescriptor.parse(bytes[...])
        #expect(parsed == d)
        #expect(length == d.serializedSize)
    }

    @Test func rfc7741Example() throws {
        // RFC 7741 §4.2: X=1, S=1; I=1 with M=1 (15-bit picture id 0x1234).
        let bytes: [UInt8] = [0x90, 0x80, 0x92, 0x34, 0x00]
        let (d, len) = try VP8PayloadDescriptor.parse(bytes[...])
        #expect(len == 4)
        #expect(d.pictureID == .long(0x1234))
        #expect(d.startOfPartition)
        #expect(VP8PayloadDescriptor.isKeyFrameStart(bytes[...]))
        #expect(!VP8PayloadDescriptor.isKeyFrameStart([0x90, 0x80, 0x92, 0x34, 0x01][...]))
        #expect(!VP8PayloadDescriptor.isKeyFrameStart([0x80, 0x80, 0x92, 0x34, 0x00][...]))  // S = 0
    }

    @Test func rejectsTruncatedDescriptors() {
        for bytes: [UInt8] in [[], [0x80], [0x80, 0x80], [0x80, 0x80, 0x80], [0x10], [0x80, 0x40, 5]] {
            #expect(throws: WireError(.truncated, "")) { try VP8PayloadDescriptor.parse(bytes[...]) }
        }
    }

    @Test func packetizerAndAssemblerRoundTrip() {
        var rng = SeededRandom(seed: 7)
        var packetizer = VP8Packetizer(maxPayloadSize: 300, initialPictureID: 0x7FFE)
        var assembler = VP8FrameAssembler()
        var seq: UInt16 = 65_530
        for frameIndex in 0..<50 {
            var frame = rng.bytes(Int.random(in: 1...2_000, using: &rng))
            frame[0] = frameIndex % 10 == 0 ? frame[0] & 0xFE : frame[0] | 0x01
            let payloads = packetizer.packetize(frame: frame)
            #expect(payloads.allSatisfy { $0.count <= 300 })
            var result: VP8FrameAssembler.Frame?
            for (i, payload) in payloads.enumerated() {
                let header = RTPHeader(
                    marker: i == payloads.count - 1, payloadType: 96, sequenceNumber: seq,
                    timestamp: UInt32(frameIndex * 3000), ssrc: 1)
                seq &+= 1
                result = assembler.push(RTPPacket(header: header, payload: payload))
                if i < payloads.count - 1 { #expect(result == nil) }
            }
            #expect(result?.data == frame)
            #expect(result?.isKeyFrame == (frameIndex % 10 == 0))
            #expect(result?.pictureID == UInt16((0x7FFE + frameIndex) & 0x7FFF))
        }
        #expect(assembler.droppedFrames == 0)
    }

    @Test func assemblerDropsAFrameWithAGap() {
        var packetizer = VP8Packetizer(maxPayloadSize: 100)
        var assembler = VP8FrameAssembler()
        let payloads = packetizer.packetize(frame: Array(repeating: 1, count: 500))
        #expect(payloads.count > 3)
        var completed = 0
        for (i, payload) in payloads.enumerated() where i != 2 {
            let header = RTPHeader(
                marker: i == payloads.count - 1, payloadType: 96, sequenceNumber: UInt16(i), timestamp: 0, ssrc: 1)
            if assembler.push(RTPPacket(header: header, payload: payload)) != nil { completed += 1 }
        }
        #expect(completed == 0)
        #expect(assembler.droppedFrames == 1)
    }

    @Test func gstreamerVP8PacketsParseAndReassemble() throws {
        let captures = try Fixtures.records("gstreamer-vp8.rtp", in: Fixtures.directory())
        #expect(captures.count >= 20)
        var assembler = VP8FrameAssembler()
        var frames: [VP8FrameAssembler.Frame] = []
        var previous: UInt16?
        for bytes in captures {
            let packet = try RTPPacket(parsing: bytes)
            #expect(packet.serialized() == bytes)
            #expect(packet.header.payloadType == 96)
            #expect(packet.header.ssrc == 0x1122_3344)
            if let previous { #expect(packet.header.sequenceNumber == previous &+ 1) }
            previous = packet.header.sequenceNumber
            if let frame = assembler.push(packet) { frames.append(frame) }
        }
        #expect(frames.count == 20)
        #expect(assembler.droppedFrames == 0)
        // The first frame is a key frame: VP8 start code 9d 01 2a and 320×240 (RFC 6386 §9.1).
        let key = try #require(frames.first)
        #expect(key.isKeyFrame)
        #expect(Array(key.data[3..<6]) == [0x9D, 0x01, 0x2A])
        #expect((UInt16(key.data[7]) << 8 | UInt16(key.data[6])) & 0x3FFF == 320)
        #expect((UInt16(key.data[9]) << 8 | UInt16(key.data[8])) & 0x3FFF == 240)
        // Picture ids are 15-bit and consecutive; key frames every 10 frames (keyframe-max-dist=10).
        let ids = frames.compactMap(\.pictureID)
        #expect(ids.count == 20)
        for (a, b) in zip(ids, ids.dropFirst()) { #expect(b == (a + 1) & 0x7FFF) }
        #expect(frames.filter(\.isKeyFrame).count >= 2)
        #expect(captures.count > frames.count)  // at a 600-byte MTU some frames span packets
    }

    @Test func gstreamerOpusPacketsDescribeTwentyMillisecondFrames() throws {
        let captures = try Fixtures.records("gstreamer-opus.rtp", in: Fixtures.directory())
        #expect(captures.count >= 20)
        var previous: RTPPacket?
        for (index, bytes) in captures.enumerated() {
            let packet = try RTPPacket(parsing: bytes)
            #expect(packet.serialized() == bytes)
            let info = try OpusPacketInfo(parsing: packet.payload)
            #expect(info.duration == 960)
            #expect(info.isStereo)
            if let previous {
                // The first step is shorter by the encoder's 312-sample pre-skip (RFC 7845 §4.2).
                let step = packet.header.timestamp &- previous.header.timestamp
                #expect(step == UInt32(index == 1 ? info.duration - 312 : info.duration))
            }
            previous = packet
        }
    }

    @Test func opusTableOfContents() throws {
        // config 31 (CELT FB 20 ms), stereo, code 3 with 3 frames → 60 ms.
        let info = try OpusPacketInfo(parsing: [31 << 3 | 0x04 | 0x03, 0x03])
        #expect(info.mode == .celt)
        #expect(info.frameCount == 3)
        #expect(info.duration == 2_880)
        // config 1 (SILK NB 20 ms), mono, code 1 (two frames).
        #expect(try OpusPacketInfo(parsing: [1 << 3 | 0x01]).duration == 1_920)
        #expect(throws: WireError(.invalidField, "")) { try OpusPacketInfo(parsing: [0x03, 0x00]) }
        #expect(throws: WireError(.invalidField, "")) { try OpusPacketInfo(parsing: [3 << 3 | 0x03, 0x03]) }  // 180 ms
        #expect(throws: WireError(.truncated, "")) { try OpusPacketInfo(parsing: []) }
    }
}

@Suite struct HeaderExtensionFixtureTests {
    /// GStreamer's payloader with transport-wide CC (id 3) and 64-bit NTP (id 5) extensions.
    @Test func gstreamerOneByteExtensionsParse() throws {
        let captures = try Fixtures.records("gstreamer-vp8-extensions.rtp", in: Fixtures.directory())
        #expect(captures.count >= 10)
        var transportSequences: [UInt16] = []
        var ntpCount = 0
        for bytes in captures {
            let packet = try RTPPacket(parsing: bytes)
            #expect(packet.serialized() == bytes)
            let ext = try #require(packet.header.extensions)
            #expect(ext.form == .oneByte)
            let twcc = try #require(ext[3])
            #expect(twcc.count == 2)
            transportSequences.append(UInt16(twcc[0]) << 8 | UInt16(twcc[1]))
            if let ntp = ext[5] {
                #expect(ntp.count == 8)
                ntpCount += 1
            }
        }
        // Transport-wide sequence numbers count up by one per packet.
        for (a, b) in zip(transportSequences, transportSequences.dropFirst()) { #expect(b == a &+ 1) }
        #expect(ntpCount >= 1)
    }
}
