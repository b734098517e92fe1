import FuzzSupport
import MediaWire

/// The VP8 payload descriptor (RFC 7741 §4.2) and the frame assembler that consumes it.
///
/// Input: the whole buffer is tried as one payload; then it is cut into packets for the
/// assembler — per packet a flag byte (bit 0 marker, bit 1 new timestamp, bits 2–3 sequence
/// step − 1) and a length byte, then the payload; finally the buffer goes through the packetizer
/// and back through the assembler, which must return it unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVP8(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let (d, length) = try? VP8PayloadDescriptor.parse(bytes[...]) {
        precondition(length >= 1 && length < bytes.count, "descriptor length \(length) of \(bytes.count)")
        var out: [UInt8] = []
        d.serialize(into: &out)
        precondition(out.count == d.serializedSize, "serializedSize is not the serialized size")
        out.append(0)
        guard let (again, againLength) = try? VP8PayloadDescriptor.parse(out[...]) else {
            fatalError("a parsed VP8 descriptor does not parse after serializing")
        }
        precondition(again == d && againLength == out.count - 1, "VP8 descriptor round trip changed it")
    }
    _ = VP8PayloadDescriptor.isKeyFrameStart(bytes[...])
    _ = VP8PayloadDescriptor.isKeyFrameStart(bytes.dropFirst())

    // Packets for the assembler, cut from the input.
    var assembler = VP8FrameAssembler(maxFrameSize: 4_096)
    var i = 0, seq: UInt16 = 0xFFF0, timestamp: UInt32 = 1
    while i + 2 <= bytes.count {
        let flags = bytes[i], n = min(Int(bytes[i + 1]), bytes.count - i - 2)
        let payload = Array(bytes[(i + 2)..<(i + 2 + n)])
        i += 2 + n
        if flags & 0x02 != 0 { timestamp &+= 3_000 }
        seq &+= UInt16(flags >> 2 & 0x03) + 1
        let packet = RTPPacket(
            header: RTPHeader(marker: flags & 0x01 != 0, payloadType: 97, sequenceNumber: seq, timestamp: timestamp, ssrc: 1),
            payload: payload)
        if let frame = assembler.push(packet) {
            precondition(frame.data.count <= assembler.maxFrameSize, "frame over the assembler's bound")
            precondition(frame.lastSequence == seq && frame.timestamp == timestamp, "frame bookkeeping")
        }
    }

    // Packetizer → assembler is the identity for any non-empty frame.
    if !bytes.isEmpty {
        var packetizer = VP8Packetizer(maxPayloadSize: 8 + Int(bytes[0]), initialPictureID: 0x7FFE)
        let payloads = packetizer.packetize(frame: bytes)
        var reassembler = VP8FrameAssembler()
        var frame: VP8FrameAssembler.Frame?
        for (k, p) in payloads.enumerated() {
            let header = RTPHeader(
                marker: k == payloads.count - 1, payloadType: 97, sequenceNumber: UInt16(truncatingIfNeeded: 0xFFFE + k),
                timestamp: 90_000, ssrc: 7)
            precondition(frame == nil, "a frame completed before its last packet")
            frame = reassembler.push(RTPPacket(header: header, payload: p))
        }
        guard let frame else { fatalError("packetized frame of \(bytes.count) bytes did not reassemble") }
        precondition(frame.data == bytes && frame.pictureID == 0x7FFE, "packetize → assemble changed the frame")
    }
    return 0
}

@_cdecl("FuzzVP8_main")
public func fuzzVP8Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzVP8)
}
