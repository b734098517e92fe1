import Chat
import Foundation
import ShowroomCore
import Signaling
import Testing

/// The `/ws` server messages' JSON, byte for byte, as docs/protocol.md shows them: keys sorted,
/// slashes unescaped, optional fields left out, a chat message's content flattened into it. The
/// expected texts were taken from the encoder before it became `Codable`, so clients see no change.
@Suite struct ServerMessageEncodingTests {
    static let at = Date(timeIntervalSince1970: 1_800_000_000)
    static let alice = Participant(id: "c1", identity: "alice", role: "shopper")

    static let cases: [(ServerMessage, String)] = [
        (.welcome(participant: alice, expires: at, ref: "r1"), #"{"expires":"2027-01-15T08:00:00Z","participant":{"id":"c1","identity":"alice","role":"shopper"},"ref":"r1","type":"welcome","v":1}"#),
        (.welcome(participant: alice, expires: nil, ref: nil), #"{"participant":{"id":"c1","identity":"alice","role":"shopper"},"type":"welcome","v":1}"#),
        (
            .joined(room: "r", participants: [alice], firstSeq: 1, lastSeq: 9, readReceipts: ["alice": 4], publishers: ["c1": "S1"], ref: "j"),
            #"{"firstSeq":1,"lastSeq":9,"participants":[{"id":"c1","identity":"alice","role":"shopper"}],"publishers":{"c1":"S1"},"readReceipts":{"alice":4},"ref":"j","room":"r","type":"joined"}"#
        ),
        (.joined(room: "r", participants: [], firstSeq: 0, lastSeq: 0, readReceipts: [:], publishers: [:], ref: nil), #"{"firstSeq":0,"lastSeq":0,"participants":[],"publishers":{},"readReceipts":{},"room":"r","type":"joined"}"#),
        (.refreshed(expires: at, ref: "x"), #"{"expires":"2027-01-15T08:00:00Z","ref":"x","type":"refreshed"}"#),
        (.refreshed(expires: nil, ref: nil), #"{"type":"refreshed"}"#),
        // TURN configured: the ICE servers as RTCPeerConnection takes them (docs/reachability.md).
        (
            .welcome(participant: alice, expires: nil, iceServers: [ICEServer(urls: ["turn:t:3478?transport=udp"], username: "9:alice", credential: "c+/=")], ref: nil),
            #"{"iceServers":[{"credential":"c+/=","urls":["turn:t:3478?transport=udp"],"username":"9:alice"}],"participant":{"id":"c1","identity":"alice","role":"shopper"},"type":"welcome","v":1}"#
        ),
        (
            .refreshed(expires: nil, iceServers: [ICEServer(urls: ["turns:t:443?transport=tcp"], username: "9:alice", credential: "c")], ref: nil),
            #"{"iceServers":[{"credential":"c","urls":["turns:t:443?transport=tcp"],"username":"9:alice"}],"type":"refreshed"}"#
        ),
        (.presence(event: "joined", participant: alice), #"{"event":"joined","participant":{"id":"c1","identity":"alice","role":"shopper"},"type":"presence"}"#),
        (
            .message(StoredMessage(room: "r", seq: 3, clientID: "m-1", sender: "alice", senderRole: "shopper", content: .text("a/b \"q\" ü"), sentAt: at)),
            #"{"from":"alice","id":"m-1","kind":"text","role":"shopper","sentAt":"2027-01-15T08:00:00Z","seq":3,"text":"a/b \"q\" ü","type":"message"}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 4, clientID: "m-2", sender: "bo", senderRole: "agent", content: .image(url: "https://x/i.png", width: 640, height: 480, alt: ""), sentAt: at)),
            #"{"alt":"","from":"bo","height":480,"id":"m-2","kind":"image","role":"agent","sentAt":"2027-01-15T08:00:00Z","seq":4,"type":"message","url":"https://x/i.png","width":640}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 5, clientID: "m-3", sender: "bo", senderRole: "agent", content: .video(url: "https://x/v.mp4", poster: "https://x/p.jpg", duration: 12.5, width: 1280, height: 720), sentAt: at)),
            #"{"duration":12.5,"from":"bo","height":720,"id":"m-3","kind":"video","poster":"https://x/p.jpg","role":"agent","sentAt":"2027-01-15T08:00:00Z","seq":5,"type":"message","url":"https://x/v.mp4","width":1280}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 6, clientID: "m-4", sender: "bo", senderRole: "agent", content: .video(url: "https://x/v.mp4", poster: nil, duration: 30, width: 1, height: 1), sentAt: at)),
            #"{"duration":30,"from":"bo","height":1,"id":"m-4","kind":"video","role":"agent","sentAt":"2027-01-15T08:00:00Z","seq":6,"type":"message","url":"https://x/v.mp4","width":1}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 7, clientID: "m-5", sender: "bo", senderRole: "agent", content: .product(sku: "SOFA-3", title: "Sofa", price: "129.90", currency: "EUR", imageURL: "https://x/s.jpg", link: "https://x/sofa"), sentAt: at)),
            #"{"currency":"EUR","from":"bo","id":"m-5","image":"https://x/s.jpg","kind":"product","link":"https://x/sofa","price":"129.90","role":"agent","sentAt":"2027-01-15T08:00:00Z","seq":7,"sku":"SOFA-3","title":"Sofa","type":"message"}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 8, clientID: "m-6", sender: "bo", senderRole: "agent", content: .coupon(code: "TEN", discount: "10%", expires: CouponExpiry(text: "2027-01-31")), sentAt: at)),
            #"{"code":"TEN","discount":"10%","expires":"2027-01-31","from":"bo","id":"m-6","kind":"coupon","role":"agent","sentAt":"2027-01-15T08:00:00Z","seq":8,"type":"message"}"#
        ),
        (
            .message(StoredMessage(room: "r", seq: 9, clientID: "s-1", sender: "showroom", senderRole: "system", content: .system("Bo joined"), sentAt: at)),
            #"{"from":"showroom","id":"s-1","kind":"system","role":"system","sentAt":"2027-01-15T08:00:00Z","seq":9,"text":"Bo joined","type":"message"}"#
        ),
        (.ack(id: "m-1", seq: 3, duplicate: false, ref: "a"), #"{"duplicate":false,"id":"m-1","ref":"a","seq":3,"type":"ack"}"#),
        (.typing(from: "c1", on: true), #"{"from":"c1","on":true,"type":"typing"}"#),
        (.mute(participant: "c1", kind: "audio", muted: true), #"{"kind":"audio","muted":true,"participant":"c1","type":"mute"}"#),
        (.read(from: "alice", seq: 3), #"{"from":"alice","seq":3,"type":"read"}"#),
        (
            .history(messages: [StoredMessage(room: "r", seq: 1, clientID: "m", sender: "a", senderRole: "shopper", content: .text("hi"), sentAt: at)], hasMore: true, ref: "h"),
            #"{"hasMore":true,"messages":[{"from":"a","id":"m","kind":"text","role":"shopper","sentAt":"2027-01-15T08:00:00Z","seq":1,"text":"hi","type":"message"}],"ref":"h","type":"history"}"#
        ),
        (.history(messages: [], hasMore: false, ref: nil), #"{"hasMore":false,"messages":[],"type":"history"}"#),
        (.answer(session: "S1", sdp: "v=0\r\n", ref: "p"), #"{"ref":"p","sdp":"v=0\r\n","session":"S1","type":"answer"}"#),
        (.track(event: "published", participant: "c1", session: "S1"), #"{"event":"published","participant":"c1","session":"S1","type":"track"}"#),
        (.error(code: "bad_message", reason: "no type", ref: nil), #"{"code":"bad_message","reason":"no type","type":"error"}"#),
        (.pong(ref: "p1"), #"{"ref":"p1","type":"pong"}"#),
        (.closing(code: "unauthorized", reason: "token expired"), #"{"code":"unauthorized","reason":"token expired","type":"closing"}"#),
    ]

    @Test func everyServerMessageEncodesAsDocumented() {
        for (message, expected) in Self.cases {
            #expect(message.json() == expected)
        }
    }
}
