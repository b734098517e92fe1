import Assist
import Foundation

// Agent assist's numbers in a release build: `swift run -c release AssistBenchmark [quick]`.
// Each part is a function in its own file (CatalogBenchmark.swift, HintBenchmark.swift, …).
let quick = CommandLine.arguments.contains("quick")
let evaluateOnly = CommandLine.arguments.contains("evaluate")

print("AssistBenchmark (\(quick ? "quick" : "full") run)")
RecommendationQualityBenchmark.run()
if !evaluateOnly {
    CatalogBenchmark.run(products: quick ? 10_000 : 100_000, events: quick ? 100_000 : 1_000_000)
    runHintBenchmark()
}
