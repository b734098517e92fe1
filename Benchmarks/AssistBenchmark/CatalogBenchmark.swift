import Assist
import Foundation

/// Catalog import (CSV, JSON: parse + index), the SQLite writes, event recording, profile
/// derivation and recommendation latency at the scale (100,000 products, 1,000,000 events).
enum CatalogBenchmark {
    static func run(products productCount: Int, events eventCount: Int) {
        BenchmarkTable.header("Catalog and recommendations: \(productCount) products, \(eventCount) events")
        let (shop, generation) = BenchmarkTable.time {
            SyntheticShop(seed: 7, products: productCount, categories: 50, eventsTarget: eventCount, plantedPairs: productCount / 20)
        }
        BenchmarkTable.row("products / events / shoppers generated", "\(shop.products.count) / \(shop.events.count) / \(shop.shopperIds.count)", BenchmarkTable.s(generation))
        do {
            // Import: CSV and JSON, parse + index.
            let csv = CatalogExport.csv(shop.products)
            let json = try CatalogExport.json(shop.products)
            let (csvImport, csvParse) = try BenchmarkTable.time { try CatalogImport(csv: csv) }
            let (csvCatalog, csvIndex) = try BenchmarkTable.time { try Catalog(products: csvImport.products) }
            BenchmarkTable.row("CSV bytes / products / issues", "\(csv.count) / \(csvImport.products.count) / \(csvImport.issues.count)")
            BenchmarkTable.row("CSV import: parse", BenchmarkTable.s(csvParse))
            BenchmarkTable.row("CSV import: index (Catalog)", BenchmarkTable.s(csvIndex))
            BenchmarkTable.row("CSV import: parse + index", BenchmarkTable.s(csvParse + csvIndex), "target < 10 s")
            let (jsonImport, jsonParse) = try BenchmarkTable.time { try CatalogImport(json: json) }
            let (_, jsonIndex) = try BenchmarkTable.time { try Catalog(products: jsonImport.products) }
            BenchmarkTable.row("JSON bytes / products / issues", "\(json.count) / \(jsonImport.products.count) / \(jsonImport.issues.count)")
            BenchmarkTable.row("JSON import: parse + index", BenchmarkTable.s(jsonParse + jsonIndex), "target < 10 s")

            // SQLite.
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("assist-bench-\(UInt64.random(in: 0...UInt64.max)).sqlite").path
            defer {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            let store = try SQLiteCatalogStore(path: path)
            let (_, productWrite) = try BenchmarkTable.time { try store.replaceCatalog(csvImport.products) }
            BenchmarkTable.row("SQLite: write catalog (one transaction)", BenchmarkTable.s(productWrite))
            BenchmarkTable.row("CSV import end to end (parse+index+write)", BenchmarkTable.s(csvParse + csvIndex + productWrite), "target < 10 s")

            // Events: check + record in memory (co-purchases, popularity), then store.
            var catalog = csvCatalog
            var log = ShopperEventLog()
            var recordTime = 0.0, storeTime = 0.0
            for start in stride(from: 0, to: shop.events.count, by: ShopperEventLog.maximumBatch) {
                let batch = Array(shop.events[start..<min(shop.events.count, start + ShopperEventLog.maximumBatch)])
                let started = DispatchTime.now().uptimeNanoseconds
                let recorded = try log.record(batch, catalog: catalog)
                catalog.recordActivity(recorded)
                let t = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                recordTime += t
                let (_, w) = try BenchmarkTable.time { try store.append(recorded, retentionPerShopper: ShopperEventLog.retentionPerShopper) }
                storeTime += w
            }
            BenchmarkTable.row("events: check + record in memory", BenchmarkTable.s(recordTime), String(format: "%.2f µs/event", recordTime / Double(max(1, shop.events.count)) * 1e6))
            BenchmarkTable.row("events: SQLite append (batches of 10,000)", BenchmarkTable.s(storeTime), String(format: "%.2f µs/event", storeTime / Double(max(1, shop.events.count)) * 1e6))
            BenchmarkTable.row("retained events / shoppers / co-purchase pairs", "\(log.eventCount) / \(log.shopperCount) / \(log.coPurchases.pairCount)")
            let (reloadedProducts, productLoad) = try BenchmarkTable.time { try store.products().count }
            let (reloadedEvents, eventLoad) = try BenchmarkTable.time { try store.events().count }
            BenchmarkTable.row("SQLite: load products + events", BenchmarkTable.s(productLoad + eventLoad), "\(reloadedProducts) products, \(reloadedEvents) events")

            // Recommendations for random held-out consultations.
            let recommender = Recommender(catalog: catalog, coPurchases: log.coPurchases)
            var seeded = Seeded(seed: 99)
            var latencies: [Double] = []
            var profileLatencies: [Double] = []
            var returned = 0
            let cases = shop.heldOut
            for i in 0..<1_000 {
                guard !cases.isEmpty else { break }
                let h = cases[Int(seeded.next() % UInt64(cases.count))]
                let now = Date(timeIntervalSince1970: Double(h.timeMs) / 1000)
                let mentioned = i % 3 == 0 ? catalog.mentions(in: "is \(h.anchor) available in blue?") : []
                let (list, t) = BenchmarkTable.time {
                    recommender.recommend(
                        for: RecommendationContext(events: log.events(of: h.shopper), productSKU: h.anchor, mentionedSKUs: mentioned, now: now), limit: 10)
                }
                returned += list.count
                latencies.append(t)
                let (_, p) = BenchmarkTable.time { ShopperProfile(shopper: h.shopper, events: log.events(of: h.shopper), catalog: catalog, now: now) }
                profileLatencies.append(p)
            }
            latencies.sort()
            profileLatencies.sort()
            BenchmarkTable.row("recommend: calls / products returned", "\(latencies.count) / \(returned)")
            BenchmarkTable.row("recommend: p50", BenchmarkTable.ms(BenchmarkTable.quantile(latencies, 0.5)))
            BenchmarkTable.row("recommend: p99", BenchmarkTable.ms(BenchmarkTable.quantile(latencies, 0.99)), "target < 50 ms")
            BenchmarkTable.row("recommend: max", BenchmarkTable.ms(latencies.last ?? 0))
            BenchmarkTable.row("profile: p50 / p99", "\(BenchmarkTable.ms(BenchmarkTable.quantile(profileLatencies, 0.5))) / \(BenchmarkTable.ms(BenchmarkTable.quantile(profileLatencies, 0.99)))")
            // Cold start: no history, a category only (the popularity scan over the whole catalog).
            var cold: [Double] = []
            for i in 0..<200 {
                let (_, t) = BenchmarkTable.time {
                    recommender.recommend(for: RecommendationContext(category: "cat-\(i % 50)", now: Date(timeIntervalSince1970: 1_800_000_000)), limit: 10)
                }
                cold.append(t)
            }
            cold.sort()
            BenchmarkTable.row("recommend cold start: p50 / p99", "\(BenchmarkTable.ms(BenchmarkTable.quantile(cold, 0.5))) / \(BenchmarkTable.ms(BenchmarkTable.quantile(cold, 0.99)))")
        } catch {
            print("benchmark failed: \(error)")
        }
    }

    /// SplitMix64 for picking cases reproducibly.
    struct Seeded {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
