import MediaWire
import ShowroomTestSupport
import Testing

@Suite struct RTCPPacketTests {
    static let block = RTCPReportBlock(
        ssrc: 0x1234_5678, fractionLost: 25, cumulativeLost: -3, extendedHighestSequence: 0x0001_0005,
        jitter: 120, lastSenderReport: 0xAABB_CCDD, delaySinceLastSenderReport: 65_536)

    static let samples: [RTCPPacket] = [
        .senderReport(
            RTCPSenderReport(
                ssrc: 1, ntpTimestamp: 0xE000_0000_8000_0000, rtpTimestamp: 90_000, packetCount: 10,
                octetCount: 12_000, reports: [block])),
        .receiverReport(RTCPReceiverReport(ssrc: 2, reports: [block, block])),
        .receiverReport(RTCPReceiverReport(ssrc: 2)),
        .sourceDescription(
            RTCPSourceDescription(chunks: [
                .init(ssrc: 7, items: [.cname("showroom-abc")]),
                .init(ssrc: 8, items: [.cname("x"), .init(type: 2, text: Array("Ada".utf8))]),
            ])),
        .goodbye(RTCPGoodbye(sources: [1, 2], reason: Array("left the room".utf8))),
        .goodbye(RTCPGoodbye(sources: [3])),
        .nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 116, 117, 200])),
        .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: 2)),
        .fullIntraRequest(RTCPFullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 9)])),
        .remb(RTCPREMB(senderSSRC: 1, bitrate: 250_000, ssrcs: [5, 6])),
        .transportFeedback(
            TransportWideFeedback(
                senderSSRC: 1, mediaSSRC: 2, baseSequence: 65_530, referenceTime: -5, feedbackCount: 3,
                packets: [.received(delta: 4), .lost, .received(delta: -4), .received(delta: 1000)]
                    + Array(repeating: .received(delta: 20), count: 30) + Array(repeating: .lost, count: 9)
                    + [.received(delta: 255)])),
        .unknown(packetType: 204, count: 3, body: [0, 0, 0, 1, 0x6E, 0x61, 0x6D, 0x65]),
    ]

    @Test(arguments: samples)
    func roundTrips(_ packet: RTCPPacket) throws {
        var bytes: [UInt8] = []
        packet.serialize(into: &bytes)
        #expect(bytes.count % 4 == 0)
        let parsed = try RTCPPacket.parseCompound(bytes)
        #expect(parsed == [packet])
        #expect(RTCPPacket.serializeCompound(parsed) == bytes)
    }

    @Test func compoundRoundTrips() throws {
        let bytes = RTCPPacket.serializeCompound(Self.samples)
        #expect(try RTCPPacket.parseCompound(bytes) == Self.samples)
    }

    @Test func nackExpandsToTheLostList() {
        let lost: [UInt16] = [65_534, 65_535, 0, 5, 15, 40]
        let nack = RTCPGenericNACK(senderSSRC: 0, mediaSSRC: 0, lost: lost)
        // 65535, 0 and 5 fit the first entry's bitmask; 15 is 17 after 65534, so it starts another.
        #expect(nack.entries.map(\.packetID) == [65_534, 15, 40])
        #expect(nack.entries[0].lostBitmask == 0b0100_0011)
        #expect(nack.lostSequenceNumbers == lost)
    }

    @Test func rembBitrateUsesExponentAndMantissa() throws {
        // From draft-alvestrand-rmcat-remb: BR Exp 6 bits, mantissa 18 bits.
        let bytes: [UInt8] = [
            0x8F, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0x52, 0x45, 0x4D, 0x42,
            1, 0x0B, 0xD5, 0x3C,  // exp 2, mantissa 0x3D53C = 251196 → 1004784 bit/s
            0x11, 0x22, 0x33, 0x44,
        ]
        let parsed = try RTCPPacket.parseCompound(bytes)
        #expect(parsed == [.remb(RTCPREMB(senderSSRC: 1, bitrate: 0x3D53C << 2, ssrcs: [0x1122_3344]))])
        #expect(RTCPPacket.serializeCompound(parsed) == bytes)
    }

    @Test func transportFeedbackReadsEveryChunkKind() throws {
        // base 100, 20 packets, reference 1 (×64 ms), count 0:
        //  run-length chunk: 5 × small delta           0 01 0000000000101
        //  1-bit vector: 14 symbols 1 0 1 0 ... (7 received)   1 0 10101010101010
        //  2-bit vector: large, then padding symbols     1 1 10 00 00 00 00 00 00
        var bytes: [UInt8] = [0x8F, 205, 0, 0, 0, 0, 0, 9, 0, 0, 0, 8, 0, 100, 0, 20, 0, 0, 1, 0]
        bytes += [0x20, 0x05, 0xAA, 0xAA, 0xE0, 0x00]
        bytes += [1, 2, 3, 4, 5]  // five small deltas
        bytes += [10, 11, 12, 13, 14, 15, 16]  // seven small deltas from the 1-bit vector
        bytes += [0xFF, 0xFE]  // one large delta: -2
        while bytes.count % 4 != 0 { bytes.append(0) }
        bytes[3] = UInt8(bytes.count / 4 - 1)
        guard case .transportFeedback(let fb) = try RTCPPacket.parseCompound(bytes).first else {
            Issue.record("not parsed as transport feedback")
            return
        }
        #expect(fb.baseSequence == 100)
        #expect(fb.packets.count == 20)
        #expect(fb.packets.prefix(5).map(\.delta) == [1, 2, 3, 4, 5])
        #expect(fb.packets[5].status == .smallDelta && fb.packets[6].status == .notReceived)
        #expect(fb.packets[19] == .init(status: .largeDelta, delta: -2))
        let arrivals = fb.arrivals
        #expect(arrivals.count == 13)
        #expect(arrivals.first?.sequence == 100)
        #expect(arrivals.first?.microseconds == Int64(64_250))
        #expect(arrivals.last?.sequence == 119)
    }

    @Test func gstreamerReportsParseAndReserializeExactly() throws {
        let captures = try Fixtures.records("gstreamer-rtcp.rtcp", in: Fixtures.directory())
        #expect(!captures.isEmpty)
        var sawSenderReport = false, sawCNAME = false
        for bytes in captures {
            let packets = try RTCPPacket.parseCompound(bytes)
            #expect(RTCPPacket.serializeCompound(packets) == bytes)
            for p in packets {
                if case .senderReport(let sr) = p {
                    sawSenderReport = true
                    #expect(sr.packetCount > 0)
                    #expect(sr.octetCount > sr.packetCount)
                }
                if case .sourceDescription(let sdes) = p {
                    sawCNAME = sdes.chunks.contains { $0.items.contains { $0.type == 1 && !$0.text.isEmpty } }
                }
            }
        }
        #expect(sawSenderReport)
        #expect(sawCNAME)
    }

    @Test(arguments: [
        ([UInt8](), WireError.Code.truncated),
        ([0x80, 200, 0, 0], .truncated),  // SR with no sender info
        ([0x80, 201, 0, 5, 0, 0, 0, 1], .truncated),  // length overruns
        ([0x40, 201, 0, 1, 0, 0, 0, 1], .badVersion),
        ([0xA0, 201, 0, 1, 0, 0, 0, 0], .badPadding),
        ([0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2], .badLength),  // NACK without FCI
    ])
    func rejectsMalformed(_ bytes: [UInt8], _ code: WireError.Code) {
        #expect(throws: WireError(code, "")) { try RTCPPacket.parseCompound(bytes) }
    }
}

@Suite struct TransportWideFeedbackLimitTests {
    /// A 24-byte TWCC packet claiming 65,535 statuses in eight run-length chunks of "not
    /// received": it expanded into 65,535 entries (and reserved room for as many) per packet.
    @Test func aStatusCountBeyondTheCapIsRefused() throws {
        var body: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x01, 0xFF, 0xFF, 0, 0, 0, 0]  // SSRCs, base 1, count 65535, ref, fb count
        for _ in 0..<8 { body += [0x1F, 0xFF] }  // run of 8191 × not received
        var packet: [UInt8] = [0x80 | 15, 205]
        packet += [0, UInt8(body.count / 4)]
        packet += body
        #expect(throws: WireError.self) { try RTCPPacket.parseCompound(packet) }
        // At the cap it parses.
        let ok = TransportWideFeedback(
            senderSSRC: 1, mediaSSRC: 2, baseSequence: 0, referenceTime: 0, feedbackCount: 0,
            packets: Array(repeating: .lost, count: TransportWideFeedback.maximumPacketStatusCount))
        var bytes: [UInt8] = []
        RTCPPacket.transportFeedback(ok).serialize(into: &bytes)
        #expect(try RTCPPacket.parseCompound(bytes) == [.transportFeedback(ok)])
    }
}
