import Chat
import Foundation
import GRDB
import Signaling
import Testing

func temporaryStore() throws -> (SQLiteChatStore, String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chat-\(UInt64.random(in: 0...UInt64.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return (try SQLiteChatStore(path: dir + "/chat.sqlite"), dir)
}

/// What is particular to the SQLite chat store (its file's migrations, its durability setting);
/// what every store promises is in StoreConformanceTests.
@Suite struct ChatStoreTests {
    /// A database written before retention existed (schema v1: no room_seq table) is migrated and
    /// its rooms' seqs go on.
    @Test func aDatabaseFromBeforeRetentionKeepsItsSeqs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chat-v1-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = try DatabaseQueue(path: dir + "/chat.sqlite")
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1');
                    CREATE TABLE message (
                        room TEXT NOT NULL, seq INTEGER NOT NULL, client_id TEXT NOT NULL,
                        sender TEXT NOT NULL, sender_role TEXT NOT NULL, body TEXT NOT NULL, sent_at REAL NOT NULL,
                        PRIMARY KEY (room, seq)) WITHOUT ROWID;
                    CREATE UNIQUE INDEX message_client ON message (room, sender, client_id);
                    CREATE TABLE read_receipt (
                        room TEXT NOT NULL, participant TEXT NOT NULL, seq INTEGER NOT NULL,
                        PRIMARY KEY (room, participant)) WITHOUT ROWID;
                    INSERT INTO message VALUES ('r', 1, 'a', 's', 'shopper', '{"kind":"text","text":"one"}', 0);
                    INSERT INTO message VALUES ('r', 2, 'b', 's', 'shopper', '{"kind":"coupon","code":"X","discount":"10%","expires":"2026-12-31T23:59:59Z"}', 0);
                    """)
        }
        try queue.close()
        let store = try SQLiteChatStore(path: dir + "/chat.sqlite")
        #expect(try store.lastSeq(room: "r") == 2)
        #expect(try store.messages(room: "r", after: 0, limit: 10).map(\.content).last == .coupon(code: "X", discount: "10%", expires: CouponExpiry(text: "2026-12-31T23:59:59Z")))
        #expect(try store.append(room: "r", clientID: "c", sender: "s", senderRole: "shopper", content: .text("three"), at: Date()).message.seq == 3)
    }

    @Test func durableMeansSynchronousFull() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try store.synchronousSetting() == 1)  // NORMAL
        let durable = try SQLiteChatStore(path: dir + "/durable.sqlite", durableAgainstPowerLoss: true)
        #expect(try durable.synchronousSetting() == 2)  // FULL
    }

}

@Suite struct ChatContentTests {
    @Test(arguments: [
        (ChatContent.text(""), ChatError.Code.invalidContent),
        (.text(String(repeating: "x", count: 4_001)), .tooLong),
        (.image(url: "javascript:alert(1)", width: 10, height: 10, alt: ""), .invalidContent),
        (.image(url: "https://a.example/x.png", width: 0, height: 10, alt: ""), .invalidContent),
        (.video(url: "javascript:alert(1)", poster: nil, duration: 15, width: 640, height: 360), .invalidContent),
        (.video(url: "https://a.example/c.mp4", poster: "data:image/png;base64,AAAA", duration: 15, width: 640, height: 360), .invalidContent),
        (.video(url: "https://a.example/c.mp4", poster: nil, duration: 0, width: 640, height: 360), .invalidContent),
        (.video(url: "https://a.example/c.mp4", poster: nil, duration: 121, width: 640, height: 360), .invalidContent),
        (.video(url: "https://a.example/c.mp4", poster: nil, duration: .nan, width: 640, height: 360), .invalidContent),
        (.video(url: "https://a.example/c.mp4", poster: nil, duration: 15, width: 640, height: 0), .invalidContent),
        (.product(sku: "A", title: "T", price: "12,90", currency: "EUR", imageURL: nil, link: "https://a.example"), .invalidContent),
        (.product(sku: "A", title: "T", price: "12.90", currency: "eur", imageURL: nil, link: "https://a.example"), .invalidContent),
        (.product(sku: "A", title: "T", price: "12.90", currency: "EUR", imageURL: nil, link: "ftp://a.example"), .invalidContent),
        (.coupon(code: "X", discount: "ten percent", expires: CouponExpiry(Date())), .invalidContent),
        (.coupon(code: "X", discount: "10%", expires: CouponExpiry(text: "next tuesday")), .invalidContent),
        (.coupon(code: "X", discount: "10%", expires: CouponExpiry(text: "2026-12-31T23:59:59")), .invalidContent),
        (.text("a" + String(repeating: "\u{301}", count: 8_200)), .tooLong),
        (.text(String(repeating: "😀", count: 4_097)), .tooLong),
        (.product(sku: "A", title: String(repeating: "\u{301}", count: 1_100), price: "1", currency: "EUR", imageURL: nil, link: "https://a.example"), .tooLong),
        (.system("hi"), .notAllowed),
    ])
    func invalidContentIsRefusedWithAReason(content: ChatContent, code: ChatError.Code) {
        #expect(throws: ChatError(code, "")) { try content.validate() }
    }

    @Test func validContentPasses() throws {
        try ChatContent.text("hi").validate()
        try ChatContent.coupon(code: "BLUE10", discount: "5.00 EUR", expires: CouponExpiry(Date())).validate()
        try ChatContent.text(String(repeating: "😀", count: 4_000)).validate()  // 16,000 bytes
        try ChatContent.text(String(repeating: "日", count: 4_000)).validate()  // 12,000 bytes
        try ChatContent.product(sku: "A", title: "T", price: "12.9", currency: "EUR", imageURL: nil, link: "https://a.example/p").validate()
    }

    /// ISO 8601 expiries: what is accepted, the instant each names, and what is not.
    @Test func couponExpiries() throws {
        let accepted: [(String, Double)] = [
            ("2027-01-31", 1_801_353_600), ("2026-12-31T23:59:59Z", 1_798_761_599), ("2026-12-31T23:59:59.5Z", 1_798_761_599.5),
            ("2026-12-31t23:59:59.500z", 1_798_761_599.5), ("2026-12-31T23:59Z", 1_798_761_540), ("2027-01-01T01:59:59+02:00", 1_798_761_599),
            ("2026-12-31T20:59:59-03:00", 1_798_761_599), ("2024-02-29", 1_709_164_800), ("2000-02-29T00:00:00Z", 951_782_400),
            ("1969-12-31T23:59:59Z", -1),
        ]
        for (text, seconds) in accepted {
            let date = try #require(CouponExpiry(text: text).date, "\(text)")
            #expect(abs(date.timeIntervalSince1970 - seconds) < 1e-6, "\(text) → \(date.timeIntervalSince1970)")
        }
        for text in [
            "", "2026-12-31T23:59:59", "2026-13-01", "2026-00-10", "2026-02-29", "1900-02-29", "2026-04-31", "2026-12-31T24:00:00Z",
            "2026-12-31T23:60:00Z", "2026-12-31T23:59:60Z", "2026-12-31T23:59:59.Z", "2026-12-31T23:59:59.1234567890Z",
            "2026-12-31T23:59:59+0200", "2026-12-31 23:59:59Z", "20261231", "+2026-12-31", "2026-12-31T23:59:59+24:00", "next tuesday",
        ] {
            #expect(CouponExpiry(text: text).date == nil, "\(text)")
        }
        // Written from an instant: UTC, milliseconds only when there are any; read back the same.
        for seconds in [0.0, 1_798_761_599, 1_798_761_599.5, -86_400.25, 253_402_300_799] {
            let e = CouponExpiry(Date(timeIntervalSince1970: seconds))
            #expect(e.date?.timeIntervalSince1970 == seconds, "\(e)")
        }
        #expect(CouponExpiry(Date(timeIntervalSince1970: 1_798_761_599)).text == "2026-12-31T23:59:59Z")
        #expect(CouponExpiry(Date(timeIntervalSince1970: 1_798_761_599.5)).text == "2026-12-31T23:59:59.500Z")
    }

    /// Found by `tools/fuzz long` (target ws, after 9.9 M inputs): a coupon whose `expires` has a
    /// fraction of a second passed validation, and the store's encoding (`jsonObject` → JSON →
    /// `ChatContent(json:)`) gave back another date. The fuzzer's input, byte for byte, and two
    /// more shapes of the same thing.
    @Test(arguments: [
        #"{"type":"send","id":"m4","kind":"coupon","code":"BLUE10","discount":"10%","expires":"2026-12-31T23:59:5.9Z"}"#,
        #"{"type":"send","id":"m4","kind":"coupon","code":"BLUE10","discount":"10%","expires":"2026-12-31T23:59:59.999Z"}"#,
        #"{"type":"send","id":"m4","kind":"coupon","code":"BLUE10","discount":"10%","expires":"0001-01-01T00:00:00.5Z"}"#,
    ])
    func couponExpiryRoundTripsThroughTheStoresEncoding(frame: String) throws {
        guard case .send(_, let content) = try ClientMessage.parse(frame).message else {
            Issue.record("not a send")
            return
        }
        // Valid or refused, what is kept is what was sent: the store's encoding gives it back unchanged.
        _ = try? content.validate()
        let stored = Data(try content.json().utf8)
        #expect(try ChatContent(json: stored) == content)
    }

    @Test func clientMessagesParseOrSayWhy() throws {
        #expect(try ClientMessage.parse(#"{"type":"send","id":"c1","kind":"text","text":"hi","ref":"r1"}"#) == (.send(id: "c1", content: .text("hi")), "r1"))
        #expect(try ClientMessage.parse(#"{"type":"join","room":"shop-1","lastSeq":41}"#).message == .join(room: "shop-1", lastSeq: 41))
        #expect(try ClientMessage.parse(#"{"type":"subscribe","sdp":"v=0","quality":"low"}"#).message == .subscribe(sdp: "v=0", quality: "low", adaptive: true, source: nil))
        #expect(try ClientMessage.parse(#"{"type":"subscribe","sdp":"v=0","source":"abc","adaptive":false}"#).message == .subscribe(sdp: "v=0", quality: "source", adaptive: false, source: "abc"))
        for bad in [
            "not json", "[]", #"{"no":"type"}"#, #"{"type":"warp"}"#, #"{"type":"join"}"#, #"{"type":"join","room":"a b"}"#,
            #"{"type":"join","room":"a","lastSeq":-1}"#, #"{"type":"join","room":"a","lastSeq":1.5}"#, #"{"type":"send","id":"x","kind":"video"}"#,
            #"{"type":"send","id":"x","kind":"text"}"#, #"{"type":"read","seq":"3"}"#, #"{"type":"history","limit":1000}"#,
            #"{"type":"subscribe","sdp":"v=0","quality":"4k"}"#, #"{"type":"typing","on":"yes"}"#,
        ] {
            #expect(throws: SignalingError(.badMessage, "")) { try ClientMessage.parse(bad) }
        }
    }

    /// Numbers from the wire at the edges of what JSON, Double and Int64 hold: each is either a
    /// value or `bad_message`, never a trap.
    @Test(arguments: [
        "1e300", "-1e300", "1e400", "-1e400", "123456789012345678901234567890", "9223372036854775807", "9223372036854775808",
        "-9223372036854775809", "9007199254740993", "9e15", "1.5", "-0", "0.0", "4.0", "1e-400", "true", "null", "\"3\"", "[]", "{}",
    ])
    func wireNumbersNeverTrap(number: String) {
        for template in [
            #"{"type":"join","room":"a","lastSeq":N}"#, #"{"type":"read","seq":N}"#, #"{"type":"history","limit":N}"#,
            #"{"type":"history","before":N}"#, #"{"type":"hello","v":N,"token":"t"}"#,
            #"{"type":"send","id":"x","kind":"image","url":"https://a.example/i.png","width":N,"height":10}"#,
            #"{"type":"send","id":"x","kind":"coupon","code":"C","discount":"10%","expires":N}"#,
        ] {
            let text = template.replacingOccurrences(of: "N", with: number)
            do {
                let parsed = try ClientMessage.parse(text).message
                if case .send(_, let content) = parsed { _ = try? content.validate() }
            } catch {
                #expect(error.code == .badMessage, "\(text)")
            }
        }
    }

    /// Deep nesting (64 KiB of brackets, the frame limit) is refused, not a stack overflow.
    @Test func deeplyNestedJSONIsRefused() {
        for open in ["[", "{\"a\":"] {
            let deep = #"{"type":"ping","x":"# + String(repeating: open, count: 10_000) + "}"
            #expect(throws: SignalingError(.badMessage, "")) { try ClientMessage.parse(deep) }
            let send = #"{"type":"send","id":"x","kind":"text","text":"t","x":"# + String(repeating: open, count: 10_000) + "}"
            #expect(throws: SignalingError(.badMessage, "")) { try ClientMessage.parse(send) }
        }
    }
}
