import FuzzSupport
import Foundation
import MediaWire
import Relay

/// SDP (RFC 8866) as WHIP, WHEP and `/ws` publish/subscribe receive it: the parser, every
/// accessor the answerer reads, the round trip through `serialized()`, and the relay's answer for
/// both roles — which must itself parse.
let answerer = SDPAnswerer(
    iceUfrag: "fuzz", icePassword: "0123456789abcdefghijkl", fingerprint: "AA:BB", candidateAddress: "127.0.0.1",
    candidatePort: 40_000, sessionID: 7)
let tracks = [
    OutgoingTrack(kind: .audio, ssrc: 1, streamID: "s", trackID: "a"),
    OutgoingTrack(kind: .video, ssrc: 2, streamID: "s", trackID: "v"),
]

/// `FUZZ_PROFILE=1 tools/fuzz repro sdp FILE` prints how long each step takes (slow inputs).
let profile = ProcessInfo.processInfo.environment["FUZZ_PROFILE"] != nil

func step<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    guard profile else { return try body() }
    let start = ContinuousClock.now
    defer { FileHandle.standardError.write(Data("profile sdp: \(name): \(ContinuousClock.now - start)\n".utf8)) }
    return try body()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let sdp = step("SessionDescription(parsing:)", { try? SessionDescription(parsing: text) }) else { return 0 }
    for m in sdp.media {
        _ = m.mid
        _ = m.direction
        _ = step("Media.codecs (\(m.kind))", { m.codecs })
        _ = step("Media.extensions (\(m.kind))", { m.extensions })
        _ = step("Media.ssrcs (\(m.kind))", { m.ssrcs })
        for name in ["ice-ufrag", "ice-pwd", "fingerprint", "setup"] { _ = sdp.value(name, in: m) }
    }
    // Half the inputs (by length) check the round trip, half the relay's answer: one extra parse
    // each, to keep the rate up (SDP parsing is the slowest of the wire formats).
    if size % 2 == 0 {
        // Serializing normalises (a stray CR at the end of a line is kept by the first parse and
        // dropped by the next, docs/fuzzing.md), so only the shape is compared.
        let once: SessionDescription
        do { once = try SessionDescription(parsing: sdp.serialized()) } catch {
            fatalError("a parsed SDP does not parse after serializing: \(error)")
        }
        precondition(
            once.media.count == sdp.media.count && once.attributes.count == sdp.attributes.count
                && once.lines.count == sdp.lines.count && once.media.map(\.kind) == sdp.media.map(\.kind),
            "SDP round trip changed the description")
    } else {
        let role = size % 4 == 1 ? SDPAnswerer.Role.publisher : .viewer
        if let (answer, _, _) = step("SDPAnswerer.answer (\(role))", { try? answerer.answer(sdp, role: role, tracks: tracks) }) {
            do { _ = try SessionDescription(parsing: answer.serialized()) } catch {
                fatalError("the relay's own answer does not parse: \(error)")
            }
        }
    }
    return 0
}

@_cdecl("FuzzSDP_main")
public func fuzzSDPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzerMain(argc, argv, fuzzSDP)
}
