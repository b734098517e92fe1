import Assist
import Testing

/// The recommender against a synthetic history whose answer is known (``SyntheticShop``: hidden
/// preferred category and size per shopper, planted bought-together pairs, the last session held
/// out). Hit@10 must beat the popularity baseline by a wide margin and stay above what was
/// measured when the weights were set (docs/assist.md, "Recommendations").
@Suite struct RecommenderHitRateTests {
    @Test func hitRateOnASyntheticHistoryBeatsPopularity() throws {
        let shop = SyntheticShop(seed: 42, products: 1_000, categories: 10, eventsTarget: 15_000, plantedPairs: 80)
        let evaluation = try shop.evaluate(k: 10)
        // Swift Testing shows this in the log: the figures the docs quote.
        print("RecommenderHitRateTests: \(evaluation)")
        #expect(evaluation.cases >= 300)
        // Measured 0.713 (baseline 0.017, planted pairs 0.938 of 194); seeded, so these only move
        // when the generator or the scoring changes.
        #expect(evaluation.recommenderHitRate >= 0.65)
        #expect(evaluation.recommenderHitRate >= evaluation.popularityHitRate + 0.4)
        #expect(evaluation.plantedPairHitRate >= 0.85)
    }

    @Test func theSyntheticShopReplaysFromItsSeed() {
        let a = SyntheticShop(seed: 3, products: 200, categories: 4, eventsTarget: 2_000, plantedPairs: 10)
        let b = SyntheticShop(seed: 3, products: 200, categories: 4, eventsTarget: 2_000, plantedPairs: 10)
        #expect(a.products == b.products)
        #expect(a.events == b.events)
        #expect(a.heldOut.map(\.answer) == b.heldOut.map(\.answer))
    }
}
