import FuzzSupport
import MediaWire

/// RTP (RFC 3550 §5.1, RFC 8285 extensions): the copying parser and its round trip, the in-place
/// view the relay forwards with, and the two must agree on every field they share.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let packet = try? RTPPacket(parsing: bytes)
    if let packet {
        let again: RTPPacket
        do { again = try RTPPacket(parsing: packet.serialized()) } catch {
            fatalError("a parsed RTP packet does not parse after serializing: \(error)")
        }
        precondition(again == packet, "RTP round trip changed the packet")
        precondition(packet.serializedSize == packet.serialized().count, "serializedSize is not the serialized size")
        for e in packet.header.extensions?.elements ?? [] {
            if let t = try? AbsoluteCaptureTime(parsing: e.data) {
                precondition((try? AbsoluteCaptureTime(parsing: t.serialized())) == t, "abs-capture-time round trip")
                _ = t.microseconds
            }
        }
    }
    bytes.withUnsafeBytes { raw in
        let view = try? RTPHeaderView(raw)
        if let view {
            precondition(view.headerLength <= raw.count, "header longer than the packet")
        }
        if let packet {
            guard let view else { fatalError("RTPPacket parses what RTPHeaderView refuses") }
            let h = packet.header
            precondition(
                view.marker == h.marker && view.payloadType == h.payloadType && view.sequenceNumber == h.sequenceNumber
                    && view.timestamp == h.timestamp && view.ssrc == h.ssrc, "RTPHeaderView and RTPPacket disagree")
        }
        // Every id the packet might carry (and some it does not): the in-place lookup must stay
        // inside the buffer and, for a packet the full parser accepts, find the same data.
        var ids: Set<UInt8> = [1, 3, 14, 15, 200]
        for e in packet?.header.extensions?.elements ?? [] { ids.insert(e.id) }
        for id in ids {
            let range = RTPHeaderView.extensionElement(id: id, in: raw)
            if let range {
                precondition(range.lowerBound >= 0 && range.upperBound <= raw.count, "extension element out of bounds")
            }
            if let packet, let ext = packet.header.extensions {
                switch ext.form {
                case .oneByte, .twoByte:
                    let found = range.map { Array(raw[$0]) }
                    precondition(found == ext[id], "extensionElement(id: \(id)) disagrees with the parser")
                case .other:
                    precondition(range == nil, "an opaque extension block has no elements")
                }
            }
        }
    }
    return 0
}

@_cdecl("FuzzRTP_main")
public func fuzzRTPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzRTP)
}
