import FuzzSupport
import MediaWire

/// Compound RTCP (RFC 3550 §6, RFC 4585, RFC 5104, REMB, transport-wide CC feedback): every
/// packet the parser accepts serializes to bytes that parse back to the same packets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTCP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let packets = try? RTCPPacket.parseCompound(bytes) else { return 0 }
    precondition(!packets.isEmpty, "a compound packet parsed to nothing")
    for p in packets {
        switch p {
        case .nack(let n): precondition(n.lostSequenceNumbers.count <= 17 * n.entries.count, "NACK expands too far")
        case .transportFeedback(let t): _ = t.arrivals
        default: break
        }
    }
    let out = RTCPPacket.serializeCompound(packets)
    precondition(out.count % 4 == 0, "RTCP serialized off a word boundary")
    let again: [RTCPPacket]
    do { again = try RTCPPacket.parseCompound(out) } catch {
        fatalError("parsed RTCP does not parse after serializing: \(error)")
    }
    precondition(again == packets, "RTCP round trip changed the packets")
    return 0
}

@_cdecl("FuzzRTCP_main")
public func fuzzRTCPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzRTCP)
}
