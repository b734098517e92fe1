import Foundation
import MediaWire
import Relay
import ShowroomTestSupport
import Testing

/// SDP offers built to cost the server time or memory. Every one is refused (or answered) in
/// bounded time: the review's 65 KB offer with 16,000 formats took 2 s of the relay's one loop.
@Suite struct HostileOfferTests {
    static func header(setup: String = "actpass") -> String {
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
            + "a=ice-ufrag:RzOd\r\na=ice-pwd:082i6E9FC3MQrAcSlpvFcv\r\n"
            + "a=fingerprint:sha-256 A4:12:E9:1B:DD:DE:55:AC:E4:D3:C4:4E:59:4C:40:92:32:06:F9:1F:9C:92:50:60:11:30:7B:EA:1A:5C:B3:6C\r\n"
            + "a=setup:\(setup)\r\n"
    }

    /// The review's offer: as many payload types on the m= line as fit in 64 KB, each with an rtpmap.
    static var manyFormats: String {
        var pts: [String] = [], attrs = ""
        for i in 0..<16_000 {
            pts.append(String(i % 128))
            if attrs.utf8.count < 20_000 { attrs += "a=rtpmap:\(i % 128) X\(i)/90000\r\n" }
        }
        var s = header() + "m=video 9 UDP/TLS/RTP/SAVPF " + pts.joined(separator: " ") + "\r\na=mid:0\r\n" + attrs
        while s.utf8.count > SessionDescription.maximumSize { s.removeLast(200) }
        return s
    }

    /// Few formats, thousands of attributes naming them: the codec lookup per format was linear in
    /// the attributes.
    static var manyAttributes: String {
        var s = header() + "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99\r\na=mid:0\r\n"
        var i = 0
        while s.utf8.count < SessionDescription.maximumSize - 100 {
            s += "a=rtcp-fb:\(96 + i % 4) nack\r\n"
            i += 1
        }
        return s
    }

    /// Thousands of `a=ssrc` lines, each a new SSRC.
    static var manySSRCs: String {
        var s = header() + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"
        var i = 1
        while s.utf8.count < SessionDescription.maximumSize - 100 {
            s += "a=ssrc:\(i) cname:x\r\n"
            i += 1
        }
        return s
    }

    static func timed(_ body: () -> Void) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        body()
        return clock.now - start
    }

    @Test(arguments: ["formats", "attributes", "ssrcs"])
    func oversizedSectionsAreRefusedQuickly(kind: String) {
        let text = kind == "formats" ? Self.manyFormats : kind == "attributes" ? Self.manyAttributes : Self.manySSRCs
        #expect(text.utf8.count <= SessionDescription.maximumSize)
        var refusal: WireError?
        let elapsed = Self.timed {
            do throws(WireError) {
                let d = try SessionDescription(parsing: text)
                // Had it parsed, answering must still be cheap.
                _ = try? answerer.answer(d, role: .publisher)
            } catch { refusal = error }
        }
        // A debug build sharing two cores with the rest of the suite; before the caps the formats
        // offer alone took seconds (2 s of a release build in the review).
        #expect(elapsed < .milliseconds(500), "\(kind): \(elapsed)")
        if kind != "ssrcs" {
            #expect(refusal?.code == .badLength, "\(kind): \(String(describing: refusal))")
            #expect(refusal?.description.contains("at most") == true, "the reason names the cap: \(String(describing: refusal))")
        }
    }

    @Test func codecsAreFoundByPayloadTypeWithTheirAttributes() throws {
        let d = try SessionDescription(
            parsing: Self.header() + "m=video 9 UDP/TLS/RTP/SAVPF 97 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\n"
                + "a=fmtp:97 profile-level-id=42e01f\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:97 nack\r\n")
        let codecs = d.media[0].codecs
        #expect(codecs.map(\.name) == ["H264", "VP8"])  // m= line order
        #expect(codecs[0].fmtp == "profile-level-id=42e01f" && codecs[0].feedback == ["nack"])
        #expect(codecs[1].fmtp == nil && codecs[1].feedback == ["nack", "nack pli"])
    }

    /// `a=setup:passive` asks the relay to be the DTLS client, which an ICE-lite server never
    /// starts: refused with the reason (RFC 8842 §5.3 lets the answerer refuse).
    @Test func aPassiveOfferIsRefusedWithTheReason() throws {
        let offer = try String(
            contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/aiortc-publisher-offer.sdp"),
            encoding: .utf8
        ).replacingOccurrences(of: "a=setup:actpass", with: "a=setup:passive")
        #expect(throws: NegotiationError(.unsupportedTransport, "")) { try answerer.answer(SessionDescription(parsing: offer), role: .publisher) }
    }

    /// Found by the SDP fuzzer (`Fuzz/Crashes/sdp`): an `a=extmap` id or an `m=` port that is only
    /// "/" left nothing to index after splitting on "/" — a trap, reachable from any WHIP offer.
    @Test(arguments: ["v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:/ urn:x\r\n", "v=0\r\nm=audio / RTP/AVP 0\r\n"])
    func slashesAloneAreRefusedOrIgnored(offer: String) {
        if let d = try? SessionDescription(parsing: offer) {
            #expect(d.media[0].extensions.isEmpty)
        }
    }
}
