import Chat
import Foundation
import Signaling
import Testing

/// A room has one spelling. `join` once compared the client's room with the token's by Swift `==`
/// (canonical equivalence) and then used the client's spelling for the store, which keys rooms by
/// bytes: a member of "café" joined as "cafe\u{301}" and what it sent, acknowledged, was stored
/// where members of the token's spelling never saw it (found by the hardening review). Room names
/// are ASCII now (``ShowroomCore/RoomName``) and compared by bytes.
@Suite struct RoomSpellingTests {
    static func session(_ hub: RoomHub, identity: String, room: String) -> (SignalingSession, Outbox) {
        let outbox = hub.makeOutbox()
        let session = SignalingSession(
            hub: hub, media: nil,
            authenticate: { (_: String) async throws(SignalingError) -> Grant in
                Grant(identity: identity, role: "shopper", room: room, canPublish: true, expires: nil)
            }, outbox: outbox)
        return (session, outbox)
    }

    static func drain(_ outbox: Outbox) -> [[String: Any]] {
        var out: [[String: Any]] = []
        while let t = outbox.tryNext() {
            if let o = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any] { out.append(o) }
        }
        return out
    }

    @Test func aCanonicallyEquivalentSpellingIsRefused() async throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: store)
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        #expect(nfc == nfd && !nfc.utf8.elementsEqual(nfd.utf8))
        // Even a grant for the non-ASCII name (no token the server signs has one) joins nothing.
        let (a, aOut) = Self.session(hub, identity: "mallory", room: nfc)
        #expect(await a.handle(#"{"type":"hello","v":1,"token":"t"}"#) == nil)
        #expect(await a.handle(#"{"type":"join","room":"\#(nfd)","ref":"j"}"#) == nil)
        #expect(await a.handle(#"{"type":"send","id":"m1","kind":"text","text":"stored elsewhere?"}"#) == nil)
        let got = Self.drain(aOut)
        #expect(got.contains { $0["type"] as? String == "error" && $0["code"] as? String == "bad_message" && $0["ref"] as? String == "j" })
        #expect(!got.contains { $0["type"] as? String == "ack" }, "a send was acknowledged in a room of another spelling: \(got)")
        await a.end()
    }

    @Test func aNameThatDiffersFromTheTokensBytesIsForbidden() async throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hub = RoomHub(store: store)
        let (a, aOut) = Self.session(hub, identity: "sam", room: "Shoes")
        #expect(await a.handle(#"{"type":"hello","v":1,"token":"t"}"#) == nil)
        #expect(await a.handle(#"{"type":"join","room":"shoes","ref":"j"}"#) == nil)
        #expect(await a.handle(#"{"type":"join","room":"Shoes","ref":"k"}"#) == nil)
        let got = Self.drain(aOut)
        #expect(got.contains { $0["type"] as? String == "error" && $0["code"] as? String == "forbidden" && $0["ref"] as? String == "j" })
        #expect(got.contains { $0["type"] as? String == "joined" && $0["room"] as? String == "Shoes" })
        await a.end()
    }
}
