import Assist

// Filled in with the catalog, recommendation and hint benchmarks (docs/benchmarks.md, "Assist").
print("AssistBenchmark: nothing measured yet")
