import FuzzSupport
import MediaCrypto
import MediaWire

/// STUN (RFC 8489) as the relay's ICE-lite agent reads it: the parser, MESSAGE-INTEGRITY and
/// FINGERPRINT checks on the raw bytes, XOR-MAPPED-ADDRESS, and the round trip through
/// `serialized(integrityKey:mac:)`, which must verify.
let key = Array("VOkJxbRl1RmTxUk/WvJxBt".utf8)  // RFC 5769's password: its sample request verifies

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSTUN(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The relay only checks integrity after a parse succeeds, but both checks are public and
    // take raw bytes: they must be safe on anything a socket can deliver.
    _ = STUNMessage.verifyIntegrity(bytes, key: key, mac: HMACSHA1.digest)
    _ = STUNMessage.verifyFingerprint(bytes)
    let looks = STUNMessage.looksLikeSTUN(bytes[...])
    guard let message = try? STUNMessage(parsing: bytes) else { return 0 }
    // The parser takes any type with the top two bits clear (RFC 8489 §5), the demux only first
    // bytes 0–3 (RFC 7983 §7): what the demux routes here must be what it recognises.
    if bytes[0] < 4 { precondition(looks, "parses as STUN but does not look like it (RFC 7983 demux would miss it)") }
    precondition(message.transactionID.count == 12, "transaction id of \(message.transactionID.count) bytes")
    _ = message.username
    _ = message.hasUseCandidate
    if let v = message[STUNMessage.AttributeType.xorMappedAddress],
        let a = try? STUNAddress(xorDecoding: v, transactionID: message.transactionID)
    {
        precondition(
            (try? STUNAddress(xorDecoding: a.xorEncoded(transactionID: message.transactionID), transactionID: message.transactionID)) == a,
            "XOR-MAPPED-ADDRESS round trip")
    }
    let signed = message.serialized(integrityKey: key, mac: HMACSHA1.digest)
    let again: STUNMessage
    do { again = try STUNMessage(parsing: signed) } catch {
        // More than 64 attributes after adding two, or over the 4 KiB cap: not a round-trip failure.
        if message.attributes.count > 62 || signed.count > 4_096 { return 0 }
        fatalError("a parsed STUN message does not parse after serializing: \(error)")
    }
    precondition(STUNMessage.verifyIntegrity(signed, key: key, mac: HMACSHA1.digest), "our own MESSAGE-INTEGRITY fails")
    precondition(STUNMessage.verifyFingerprint(signed), "our own FINGERPRINT fails")
    let kept = message.attributes.filter {
        $0.type != STUNMessage.AttributeType.messageIntegrity && $0.type != STUNMessage.AttributeType.fingerprint
    }
    precondition(Array(again.attributes.dropLast(2)) == kept && again.type == message.type, "STUN round trip changed it")
    return 0
}

@_cdecl("FuzzSTUN_main")
public func fuzzSTUNMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzSTUN)
}
