import Assist
import Foundation

/// The recommender's hit rate on the synthetic shop with a known answer (the same seed and sizes as
/// AssistTests' `RecommenderHitRateTests`).
enum RecommendationQualityBenchmark {
    static func run() {
        BenchmarkTable.header("Recommendation quality (synthetic history, known answer)")
        do {
            let shop = SyntheticShop(seed: 42, products: 2_000, categories: 20, eventsTarget: 40_000, plantedPairs: 150)
            let (evaluation, seconds) = try BenchmarkTable.time { try shop.evaluate(k: 10) }
            BenchmarkTable.row("products / training events", "\(shop.products.count) / \(shop.events.count)")
            BenchmarkTable.row("held-out consultations", "\(evaluation.cases)")
            BenchmarkTable.row("hit@10 recommender", String(format: "%.3f", evaluation.recommenderHitRate))
            BenchmarkTable.row("hit@10 popularity baseline", String(format: "%.3f", evaluation.popularityHitRate))
            BenchmarkTable.row("hit@10 on planted pairs", String(format: "%.3f", evaluation.plantedPairHitRate), "\(evaluation.plantedPairCases) cases")
            BenchmarkTable.row("evaluation time", BenchmarkTable.s(seconds))
        } catch {
            print("evaluation failed: \(error)")
        }
    }
}
