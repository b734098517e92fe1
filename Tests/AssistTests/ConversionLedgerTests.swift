import Assist
import Foundation
import Testing

/// Tracking tokens and conversion attribution: no token, another consultation's token, a forged
/// token, a duplicate order counted once, and the report's sums and rates.
@Suite struct ConversionLedgerTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let key: TrackingKey
    let otherKey: TrackingKey

    init() throws {
        key = try TrackingKey(Array(repeating: 7, count: 32))
        otherKey = try TrackingKey(Array(repeating: 8, count: 32))
    }

    @Test func tokensRoundTripAndRefuseEveryAlteration() throws {
        let token = TrackingToken(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "SOFA-3"), issued: t0 + 0.7)
        let text = try token.signed(with: key)
        #expect(text.hasPrefix("t1."))
        #expect(text.utf8.count <= TrackingToken.maximumLength)
        #expect(text.utf8.allSatisfy { $0 < 0x80 && ($0 == 0x2E || $0 == 0x2D || $0 == 0x5F || (0x30...0x7A).contains($0)) })
        let back = try TrackingToken.verify(text, key: key)
        #expect(back == token)
        #expect(back.issued == t0)

        #expect(throws: AssistError(.invalidArgument, "")) { try TrackingToken.verify(text, key: otherKey) }
        // Every position, every other base64url character: the MAC's last character included,
        // whose spare bits base64 decoders ignore.
        var chars = Array(text)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        var accepted = 0
        for i in chars.indices {
            let original = chars[i]
            for c in alphabet where c != original {
                chars[i] = c
                if (try? TrackingToken.verify(String(chars), key: key)) != nil { accepted += 1 }
            }
            chars[i] = original
        }
        #expect(accepted == 0)
        for garbage in ["", "t1.", "t1..", "t2.abc.def", "t1.@@@.###", String(repeating: "a", count: 700)] {
            #expect(throws: AssistError(.invalidArgument, "")) { try TrackingToken.verify(garbage, key: key) }
        }
        // Two cards of the same product carry different tokens.
        let again = TrackingToken(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "SOFA-3"), issued: t0)
        #expect(try again.signed(with: key) != text)
        #expect(throws: AssistError(.invalidArgument, "")) { try TrackingKey(Array(repeating: 1, count: 31)) }
        #expect(throws: AssistError(.invalidArgument, "")) {
            try TrackingToken(consultation: "c\n1", agent: "a", department: nil, item: .coupon(code: "X"), issued: t0).signed(with: key)
        }
    }

    @Test func attachmentsNameTheirTrackedItem() {
        #expect(ScriptAttachment.productCard(sku: "A").trackedItem == .productCard(sku: "A"))
        #expect(ScriptAttachment.coupon(code: "W10", description: "x").trackedItem == .coupon(code: "W10"))
        #expect(ScriptAttachment.none.trackedItem == nil)
    }

    @Test func aClickWithoutATokenIsUnattributed() throws {
        var ledger = ConversionLedger(key: key)
        let r = try ledger.record(ConversionReport(kind: .click, token: nil, at: t0, consultation: "c1"))
        #expect(r.outcome == .unattributed)
        #expect(r.event?.consultation == nil)
        let s = ledger.summary()
        #expect(s.unattributedClicks == 1)
        #expect(s.total.clicks == 0)
        #expect(s.byConsultation.isEmpty)
    }

    @Test func aTokenFromAnotherConsultationIsRejected() throws {
        var ledger = ConversionLedger(key: key)
        let token = try ledger.mint(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), now: t0)
        let r = try ledger.record(ConversionReport(kind: .click, token: token, at: t0 + 5, consultation: "c2"))
        #expect(r.outcome == .rejected(.consultationMismatch))
        #expect(r.event == nil)
        #expect(ledger.events.isEmpty)
        // Naming the token's own consultation is fine.
        #expect(try ledger.record(ConversionReport(kind: .click, token: token, at: t0 + 5, consultation: "c1")).outcome == .attributed(consultation: "c1", agent: "ada"))
    }

    @Test func aForgedTokenIsRejected() throws {
        var ledger = ConversionLedger(key: key)
        let forged = try TrackingToken(consultation: "c1", agent: "mallory", department: nil, item: .coupon(code: "FREE"), issued: t0).signed(with: otherKey)
        let r = try ledger.record(ConversionReport(kind: .order, token: forged, orderID: "o1", amountMinor: 100, currency: "EUR", at: t0))
        #expect(r.outcome == .rejected(.badToken))
        #expect(ledger.summary().total.orders == 0)
        // A rejected report does not use up its order id.
        #expect(try ledger.record(ConversionReport(kind: .order, token: nil, orderID: "o1", amountMinor: 100, currency: "EUR", at: t0)).outcome == .unattributed)
    }

    @Test func aDuplicateOrderIsCountedOnce() throws {
        var ledger = ConversionLedger(key: key)
        let token = try ledger.mint(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), now: t0)
        let order = ConversionReport(kind: .order, token: token, orderID: "o-42", amountMinor: 129_900, currency: "EUR", at: t0 + 60)
        #expect(try ledger.record(order).outcome == .attributed(consultation: "c1", agent: "ada"))
        #expect(try ledger.record(order).outcome == .duplicate)
        var withoutToken = order
        withoutToken.token = nil
        #expect(try ledger.record(withoutToken).outcome == .duplicate)
        // The same order id as another kind is another report.
        #expect(try ledger.record(ConversionReport(kind: .addToCart, token: token, orderID: "o-42", at: t0 + 30)).outcome.isCounted)
        let s = ledger.summary()
        #expect(s.total.orders == 1)
        #expect(s.total.revenueMinor == ["EUR": 129_900])
        // Restored from stored events, the ledger still knows the order.
        var restored = ConversionLedger(key: key, sends: ledger.sends, events: ledger.events)
        #expect(try restored.record(order).outcome == .duplicate)
    }

    @Test func reportsSumRevenueAndRatesPerConsultationAgentAndDepartment() throws {
        var ledger = ConversionLedger(key: key)
        let c1 = try ledger.mint(consultation: "c1", agent: "ada", department: "sales", item: .productCard(sku: "A"), now: t0)
        _ = try ledger.mint(consultation: "c2", agent: "ada", department: "sales", item: .coupon(code: "WELCOME10"), now: t0 + 1)
        let c3 = try ledger.mint(consultation: "c3", agent: "bob", department: "service", item: .productCard(sku: "B"), now: t0 + 2)
        _ = try ledger.mint(consultation: "c3", agent: "bob", department: "service", item: .productCard(sku: "C"), now: t0 + 3)
        try ledger.record(ConversionReport(kind: .click, token: c1, at: t0 + 10))
        try ledger.record(ConversionReport(kind: .addToCart, token: c1, reportID: "cart-1", at: t0 + 11))
        try ledger.record(ConversionReport(kind: .order, token: c1, orderID: "o1", amountMinor: 10_000, currency: "EUR", at: t0 + 12))
        try ledger.record(ConversionReport(kind: .order, token: c3, orderID: "o2", amountMinor: 5_000, currency: "EUR", at: t0 + 13))
        try ledger.record(ConversionReport(kind: .order, token: c3, orderID: "o3", amountMinor: 2_500, currency: "EUR", at: t0 + 14))
        try ledger.record(ConversionReport(kind: .order, token: nil, orderID: "o4", amountMinor: 999, currency: "EUR", at: t0 + 15))

        let s = ledger.summary()
        #expect(s.total.consultations == 3)
        #expect(s.total.convertedConsultations == 2)
        #expect(s.total.conversionRate == 2.0 / 3.0)
        #expect(s.total.productCardsSent == 3)
        #expect(s.total.couponsSent == 1)
        #expect(s.total.itemsSent == 4)
        #expect(s.total.clicks == 1)
        #expect(s.total.addToCarts == 1)
        #expect(s.total.orders == 3)
        #expect(s.total.revenueMinor == ["EUR": 17_500])
        #expect(s.total.revenuePerConsultation(currency: "EUR") == 17_500.0 / 3.0)
        #expect(s.unattributedOrders == 1)
        #expect(s.unattributedRevenueMinor == ["EUR": 999])

        let ada = try #require(s.byAgent["ada"])
        #expect(ada.consultations == 2)
        #expect(ada.convertedConsultations == 1)
        #expect(ada.conversionRate == 0.5)
        #expect(ada.revenuePerConsultation(currency: "EUR") == 5_000)
        let bob = try #require(s.byAgent["bob"])
        #expect(bob.revenueMinor == ["EUR": 7_500])
        #expect(bob.conversionRate == 1)
        #expect(s.byDepartment["service"]?.orders == 2)
        #expect(s.byDepartment["sales"]?.couponsSent == 1)
        #expect(s.byConsultation["c2"]?.conversionRate == 0)
        #expect(s.byConsultation["c3"]?.productCardsSent == 2)

        // A window: only what happened in it.
        let late = ledger.summary(from: t0 + 13, to: t0 + 100)
        #expect(late.total.orders == 2)
        #expect(late.total.consultations == 1)
        #expect(late.byAgent["ada"] == nil)
    }

    @Test func malformedReportsThrow() throws {
        var ledger = ConversionLedger(key: key)
        for bad in [
            ConversionReport(kind: .order, token: nil, at: t0),
            ConversionReport(kind: .order, token: nil, orderID: "o", amountMinor: 100, at: t0),
            ConversionReport(kind: .order, token: nil, orderID: "o", amountMinor: -1, currency: "EUR", at: t0),
            ConversionReport(kind: .order, token: nil, orderID: "o", amountMinor: 1, currency: "eur", at: t0),
            ConversionReport(kind: .click, token: nil, reportID: "", at: t0),
        ] {
            #expect(throws: AssistError(.invalidArgument, "")) { try ledger.record(bad) }
        }
    }
}
