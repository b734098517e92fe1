import Assist
import Foundation
import Testing

/// Event batches: checked whole (an unknown SKU or a bad field refuses the batch and records
/// nothing), capped, priced from the catalog, retained per shopper.
@Suite struct ShopperEventLogTests {
    static let t0: Int64 = 1_800_000_000_000
    static let catalog: Catalog = {
        (try? Catalog(products: [CatalogTests.product("A"), CatalogTests.product("B")])) ?? Catalog()
    }()

    @Test func anUnknownSKURefusesTheBatchAndRecordsNothing() throws {
        var log = ShopperEventLog()
        let batch = [
            ShopperEvent(shopper: "s1", kind: .viewed, sku: "A", timeMs: Self.t0),
            ShopperEvent(shopper: "s1", kind: .viewed, sku: "NOPE", timeMs: Self.t0 + 1),
        ]
        do {
            try log.record(batch, catalog: Self.catalog)
            Issue.record("accepted an unknown sku")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.detail.contains("event 2"))
            #expect(error.detail.contains("NOPE"))
        }
        #expect(log.eventCount == 0)
        #expect(log.events(of: "s1").isEmpty)
    }

    @Test func badFieldsAndOversizeBatchesAreRefused() {
        var log = ShopperEventLog()
        let bad: [ShopperEvent] = [
            ShopperEvent(shopper: "", kind: .viewed, sku: "A", timeMs: Self.t0),
            ShopperEvent(shopper: "s", kind: .viewed, sku: "A", timeMs: 1_800_000_000),  // seconds, not ms
            ShopperEvent(shopper: "s", kind: .purchased, sku: "A", timeMs: Self.t0, quantity: 0),
            ShopperEvent(shopper: "s", kind: .purchased, sku: "A", timeMs: Self.t0, priceMinor: -1),
            ShopperEvent(shopper: "s", kind: .purchased, sku: "A", timeMs: Self.t0, orderId: ""),
        ]
        for event in bad {
            #expect(throws: AssistError(.invalidArgument, "")) { try log.record([event], catalog: Self.catalog) }
        }
        let tooMany = Array(repeating: ShopperEvent(shopper: "s", kind: .viewed, sku: "A", timeMs: Self.t0), count: ShopperEventLog.maximumBatch + 1)
        #expect(throws: AssistError(.tooLarge, "")) { try log.record(tooMany, catalog: Self.catalog) }
        #expect(log.eventCount == 0)
    }

    @Test func purchasesArePricedFromTheCatalogWhenTheShopSendsNoPrice() throws {
        var log = ShopperEventLog()
        let recorded = try log.record(
            [
                ShopperEvent(shopper: "s", kind: .purchased, sku: "A", timeMs: Self.t0),
                ShopperEvent(shopper: "s", kind: .purchased, sku: "B", timeMs: Self.t0, priceMinor: 100),
            ], catalog: Self.catalog)
        #expect(recorded[0].priceMinor == 5_000)
        #expect(recorded[0].currency == "EUR")
        #expect(recorded[1].priceMinor == 100)
        #expect(recorded[1].currency == "EUR")
    }

    @Test func eachShopperKeepsTheirNewestEvents() throws {
        var log = ShopperEventLog(retentionPerShopper: 10)
        let events = (0..<37).map { ShopperEvent(shopper: "s", kind: .viewed, sku: $0 % 2 == 0 ? "A" : "B", timeMs: Self.t0 + Int64($0)) }
        try log.record(events, catalog: Self.catalog)
        try log.record([ShopperEvent(shopper: "other", kind: .viewed, sku: "A", timeMs: Self.t0)], catalog: Self.catalog)
        #expect(log.events(of: "s").map(\.timeMs) == (27..<37).map { Self.t0 + Int64($0) })
        #expect(log.eventCount == 11)
        #expect(log.shoppers == ["other", "s"])
        // Late events are put in time order.
        try log.record([ShopperEvent(shopper: "other", kind: .viewed, sku: "B", timeMs: Self.t0 - 5)], catalog: Self.catalog)
        #expect(log.events(of: "other").map(\.sku) == ["B", "A"])
    }

    @Test func eventsReadAsJSONWithMillisecondsOrISOTimes() throws {
        let json = Data(
            """
            [{"shopper": "s", "kind": "added_to_cart", "sku": "A", "time": 1800000000000, "quantity": 2},
             {"shopper": "s", "kind": "purchased", "sku": "A", "time": "2027-01-15T08:00:00Z", "orderId": "o1"}]
            """.utf8)
        let events = try JSONDecoder().decode([ShopperEvent].self, from: json)
        #expect(events[0].kind == .addedToCart)
        #expect(events[0].quantity == 2)
        #expect(events[1].timeMs == 1800000000000)
        #expect(events[1].quantity == 1)
        let again = try JSONDecoder().decode([ShopperEvent].self, from: JSONEncoder().encode(events))
        #expect(again == events)
    }
}
