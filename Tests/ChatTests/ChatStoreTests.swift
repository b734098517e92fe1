import Chat
import Foundation
import Signaling
import Testing

func temporaryStore() throws -> (SQLiteChatStore, String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chat-\(UInt64.random(in: 0...UInt64.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return (try SQLiteChatStore(path: dir + "/chat.sqlite"), dir)
}

@Suite struct ChatStoreTests {
    @Test func seqIsPerRoomAndGapless() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 1...5 {
            let r = try store.append(room: "a", clientID: "m\(i)", sender: "ann", senderRole: "agent", content: .text("hi \(i)"), at: Date())
            #expect(r.message.seq == Int64(i) && !r.duplicate)
        }
        #expect(try store.append(room: "b", clientID: "m1", sender: "ann", senderRole: "agent", content: .text("x"), at: Date()).message.seq == 1)
        #expect(try store.lastSeq(room: "a") == 5)
        #expect(try store.lastSeq(room: "empty") == 0)
    }

    @Test func aRetriedSendIsStoredOnceAndAnsweredWithTheOriginalSeq() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try store.append(room: "a", clientID: "c-1", sender: "sam", senderRole: "shopper", content: .text("hello"), at: Date())
        _ = try store.append(room: "a", clientID: "c-2", sender: "sam", senderRole: "shopper", content: .text("again"), at: Date())
        let retry = try store.append(room: "a", clientID: "c-1", sender: "sam", senderRole: "shopper", content: .text("hello"), at: Date())
        #expect(retry.duplicate && retry.message.seq == first.message.seq && retry.message.content == .text("hello"))
        // The same client id from another sender is another message.
        #expect(!(try store.append(room: "a", clientID: "c-1", sender: "ann", senderRole: "agent", content: .text("hi"), at: Date()).duplicate))
        #expect(try store.lastSeq(room: "a") == 3)
    }

    @Test func everyKindRoundTripsThroughTheFile() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expiry = Date(timeIntervalSince1970: 1_798_761_599)
        let contents: [ChatContent] = [
            .text("Does it come in blue?"),
            .image(url: "https://shop.example/a.jpg", width: 640, height: 480, alt: "the blue one"),
            .product(sku: "SOFA-3", title: "Three-seat sofa", price: "1299.00", currency: "EUR", imageURL: "https://shop.example/s.jpg", link: "https://shop.example/p/sofa-3"),
            .coupon(code: "BLUE10", discount: "10%", expires: expiry),
            .system("Ann joined"),
        ]
        for (i, c) in contents.enumerated() {
            _ = try store.append(room: "r", clientID: "\(i)", sender: "ann", senderRole: "agent", content: c, at: Date())
        }
        // A second store on the same file (a restart) reads back the same.
        let reopened = try SQLiteChatStore(path: store.path)
        #expect(try reopened.messages(room: "r", after: 0, limit: 10).map(\.content) == contents)
    }

    @Test func pagingBothWays() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 1...30 { _ = try store.append(room: "r", clientID: "\(i)", sender: "s", senderRole: "shopper", content: .text("\(i)"), at: Date()) }
        #expect(try store.messages(room: "r", after: 25, limit: 100).map(\.seq) == [26, 27, 28, 29, 30])
        #expect(try store.messages(room: "r", after: 0, limit: 3).map(\.seq) == [1, 2, 3])
        #expect(try store.messages(room: "r", before: 11, limit: 4).map(\.seq) == [7, 8, 9, 10])
        #expect(try store.messages(room: "r", before: 3, limit: 10).map(\.seq) == [1, 2])
    }

    @Test func readReceiptsNeverMoveBack() throws {
        let (store, dir) = try temporaryStore()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try store.markRead(room: "r", participant: "sam", seq: 5) == 5)
        #expect(try store.markRead(room: "r", participant: "sam", seq: 3) == 5)
        #expect(try store.markRead(room: "r", participant: "ann", seq: 2) == 2)
        #expect(try store.readReceipts(room: "r") == ["sam": 5, "ann": 2])
    }
}

@Suite struct ChatContentTests {
    @Test(arguments: [
        (ChatContent.text(""), ChatError.Code.invalidContent),
        (.text(String(repeating: "x", count: 4_001)), .tooLong),
        (.image(url: "javascript:alert(1)", width: 10, height: 10, alt: ""), .invalidContent),
        (.image(url: "https://a.example/x.png", width: 0, height: 10, alt: ""), .invalidContent),
        (.product(sku: "A", title: "T", price: "12,90", currency: "EUR", imageURL: nil, link: "https://a.example"), .invalidContent),
        (.product(sku: "A", title: "T", price: "12.90", currency: "eur", imageURL: nil, link: "https://a.example"), .invalidContent),
        (.product(sku: "A", title: "T", price: "12.90", currency: "EUR", imageURL: nil, link: "ftp://a.example"), .invalidContent),
        (.coupon(code: "X", discount: "ten percent", expires: Date()), .invalidContent),
        (.system("hi"), .notAllowed),
    ])
    func invalidContentIsRefusedWithAReason(content: ChatContent, code: ChatError.Code) {
        #expect(throws: ChatError(code, "")) { try content.validate() }
    }

    @Test func validContentPasses() throws {
        try ChatContent.text("hi").validate()
        try ChatContent.coupon(code: "BLUE10", discount: "5.00 EUR", expires: Date()).validate()
        try ChatContent.product(sku: "A", title: "T", price: "12.9", currency: "EUR", imageURL: nil, link: "https://a.example/p").validate()
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
        try content.validate()
        let stored = try JSONSerialization.data(withJSONObject: content.jsonObject, options: .sortedKeys)
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
}
