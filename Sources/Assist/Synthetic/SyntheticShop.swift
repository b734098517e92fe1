import Foundation

/// A seeded synthetic shop whose shoppers have a **known answer**, for measuring the recommender
/// (tests: hit rate; AssistBenchmark: latency at 100,000 products and 1,000,000 events).
///
/// The hidden structure:
/// - products in `categories` categories, each with a `size` (XS…XL), a `colour` and a `brand`;
///   about 5 % are out of stock (viewed, never bought);
/// - every shopper has a hidden preferred category and size; within a (category, size) pool
///   products are chosen by a Zipf law (some are bestsellers);
/// - `plantedPairs` pairs (A, B): a shopper who buys A also buys B in the same order with
///   probability 0.7 (what "bought together" must find).
///
/// Each shopper has `sessions` sessions: views (70 % from their pool, 30 % anywhere), an add to
/// cart, and with probability 0.6 a purchase (one order). The **last session is held out**: it
/// starts at an anchor product the shopper asks the agent about (from their pool, or with
/// probability 0.4 a planted A), and the answer is the product they then bought (B for an
/// anchor A, else another product of their pool). ``evaluate(k:weights:)`` measures how often
/// the answer is in the top k.
public struct SyntheticShop: Sendable {
    /// One held-out consultation: the history before it, the product asked about, the answer.
    public struct HeldOut: Sendable {
        public var shopper: String
        public var anchor: String
        public var answer: String
        public var timeMs: Int64
        /// Whether the answer is the planted "bought together" partner of the anchor.
        public var plantedPair: Bool
    }

    public static let sizes = ["XS", "S", "M", "L", "XL"]
    public static let colours = ["black", "white", "red", "blue", "green", "grey", "beige", "navy"]

    public private(set) var products: [Product] = []
    /// Every shopper's events before their held-out session, in time order per shopper and
    /// interleaved by time across shoppers.
    public private(set) var events: [ShopperEvent] = []
    public private(set) var heldOut: [HeldOut] = []
    public private(set) var shopperIds: [String] = []

    /// - Parameters:
    ///   - eventsTarget: roughly how many training events to generate (shoppers are added until reached).
    public init(seed: UInt64, products productCount: Int, categories: Int, eventsTarget: Int, plantedPairs: Int, startMs: Int64 = 1_780_000_000_000) {
        var rng = SplitMix64(seed: seed)
        let categories = max(1, categories)
        // Products: round-robin categories, random attributes; pools by (category, size).
        var pools: [[Int]] = Array(repeating: [], count: categories * Self.sizes.count)
        products.reserveCapacity(productCount)
        for i in 0..<productCount {
            let category = i % categories
            let size = Int.random(in: 0..<Self.sizes.count, using: &rng)
            let inStock = Double.random(in: 0..<1, using: &rng) >= 0.05
            let sku = "SKU-" + String(format: "%06d", i)
            products.append(
                Product(
                    sku: sku, title: "Product \(i) \(Self.colours[i % Self.colours.count])", priceMinor: Int64.random(in: 500...50_000, using: &rng),
                    currency: "EUR", image: "https://shop.example/img/\(i).jpg", category: "cat-\(category)",
                    attributes: [
                        "size": Self.sizes[size], "colour": Self.colours[Int.random(in: 0..<Self.colours.count, using: &rng)],
                        "brand": "brand-\(Int.random(in: 0..<40, using: &rng))",
                    ], stock: inStock ? Int.random(in: 1...100, using: &rng) : 0))
            if inStock { pools[category * Self.sizes.count + size].append(i) }
        }
        // Shuffle each pool once so the Zipf rank is not the catalog order.
        for p in pools.indices { pools[p].shuffle(using: &rng) }
        let inStock = products.indices.filter { products[$0].stock > 0 }
        var partner: [Int: Int] = [:]
        var anchors: [Int] = []
        for _ in 0..<plantedPairs {
            guard let a = inStock.randomElement(using: &rng), let b = inStock.randomElement(using: &rng), a != b, partner[a] == nil else { continue }
            partner[a] = b
            anchors.append(a)
        }
        let zipf = pools.map { SplitMix64.zipfCDF($0.count, exponent: 1.0) }

        var perShopper: [[ShopperEvent]] = []
        var generated = 0
        var shopperIndex = 0
        let day: Int64 = 86_400_000
        while generated < eventsTarget, !inStock.isEmpty {
            let shopper = "shopper-\(shopperIndex)"
            shopperIndex += 1
            var pool = Int.random(in: 0..<pools.count, using: &rng)
            var tries = 0
            while pools[pool].count < 2, tries < 100 {
                pool = Int.random(in: 0..<pools.count, using: &rng)
                tries += 1
            }
            guard pools[pool].count >= 2 else { break }
            func fromPool(_ rng: inout SplitMix64) -> Int { pools[pool][rng.pick(zipf[pool])] }
            var t = startMs + Int64.random(in: 0..<(30 * day), using: &rng)
            var list: [ShopperEvent] = []
            var order = 0
            let sessions = Int.random(in: 3...8, using: &rng)
            for _ in 0..<sessions {
                t += Int64.random(in: (day / 2)...(5 * day), using: &rng)
                var viewed: [Int] = []
                for _ in 0..<Int.random(in: 2...6, using: &rng) {
                    let p: Int
                    if Double.random(in: 0..<1, using: &rng) < 0.7 {
                        p = fromPool(&rng)
                    } else {
                        p = Int.random(in: 0..<productCount, using: &rng)
                    }
                    viewed.append(p)
                    t += Int64.random(in: 10_000...300_000, using: &rng)
                    list.append(ShopperEvent(shopper: shopper, kind: .viewed, sku: products[p].sku, timeMs: t))
                }
                // Sometimes a planted A is what they came for.
                if !anchors.isEmpty, Double.random(in: 0..<1, using: &rng) < 0.25, let a = anchors.randomElement(using: &rng) {
                    viewed.append(a)
                    t += 60_000
                    list.append(ShopperEvent(shopper: shopper, kind: .viewed, sku: products[a].sku, timeMs: t))
                }
                guard let choice = viewed.last(where: { products[$0].stock > 0 }) else { continue }
                t += 60_000
                list.append(ShopperEvent(shopper: shopper, kind: .addedToCart, sku: products[choice].sku, timeMs: t))
                guard Double.random(in: 0..<1, using: &rng) < 0.6 else { continue }
                order += 1
                let orderId = "\(shopper)-o\(order)"
                t += 120_000
                let price = products[choice].priceMinor
                list.append(ShopperEvent(shopper: shopper, kind: .purchased, sku: products[choice].sku, timeMs: t, orderId: orderId, priceMinor: price, currency: "EUR"))
                if let b = partner[choice], Double.random(in: 0..<1, using: &rng) < 0.7 {
                    t += 1_000
                    list.append(
                        ShopperEvent(shopper: shopper, kind: .purchased, sku: products[b].sku, timeMs: t, orderId: orderId, priceMinor: products[b].priceMinor, currency: "EUR"))
                }
            }
            // The held-out session: the anchor they ask about, and what they bought.
            t += Int64.random(in: (day / 2)...(3 * day), using: &rng)
            let bought = Set(list.filter { $0.kind == .purchased }.map(\.sku))
            let anchor: Int
            var answer: Int?
            var planted = false
            if !anchors.isEmpty, Double.random(in: 0..<1, using: &rng) < 0.4, let a = anchors.randomElement(using: &rng), let b = partner[a] {
                anchor = a
                answer = b
                planted = true
            } else {
                anchor = fromPool(&rng)
                answer = nil
                for _ in 0..<20 {
                    let candidate = fromPool(&rng)
                    if candidate != anchor {
                        answer = candidate
                        break
                    }
                }
            }
            if let answer, answer != anchor, !bought.contains(products[answer].sku) {
                heldOut.append(HeldOut(shopper: shopper, anchor: products[anchor].sku, answer: products[answer].sku, timeMs: t, plantedPair: planted))
            }
            generated += list.count
            shopperIds.append(shopper)
            perShopper.append(list)
        }
        // Interleave by time as a shop would send them.
        events = perShopper.flatMap { $0 }
        events.sort { $0.timeMs != $1.timeMs ? $0.timeMs < $1.timeMs : $0.shopper < $1.shopper }
    }

    /// The figures of ``evaluate(k:weights:)``.
    public struct Evaluation: Sendable, CustomStringConvertible {
        public var cases: Int
        public var k: Int
        /// Share of held-out consultations whose answer is in the recommender's top k.
        public var recommenderHitRate: Double
        /// The same for the k most popular in-stock products not yet bought (the baseline).
        public var popularityHitRate: Double
        /// The recommender's hit rate on the cases whose answer is a planted "bought together" partner.
        public var plantedPairHitRate: Double
        public var plantedPairCases: Int

        public var description: String {
            String(
                format: "hit@%d over %d held-out consultations: recommender %.3f, popularity baseline %.3f (planted pairs: %.3f of %d)", k, cases,
                recommenderHitRate, popularityHitRate, plantedPairHitRate, plantedPairCases)
        }
    }

    /// Builds the catalog and the event log from the training events, then for each held-out
    /// consultation asks the recommender (context: the shopper's history, the anchor as the
    /// product context, the time of the consultation) and the popularity baseline for `k` products.
    public func evaluate(k: Int = 10, weights: RecommenderWeights = .default) throws(AssistError) -> Evaluation {
        var catalog = try Catalog(products: products)
        var log = ShopperEventLog()
        for start in stride(from: 0, to: events.count, by: ShopperEventLog.maximumBatch) {
            let batch = Array(events[start..<min(events.count, start + ShopperEventLog.maximumBatch)])
            let recorded = try log.record(batch, catalog: catalog)
            catalog.recordActivity(recorded)
        }
        let recommender = Recommender(catalog: catalog, coPurchases: log.coPurchases, weights: weights)
        var hits = 0, baselineHits = 0, pairHits = 0, pairCases = 0
        let popular = catalog.mostPopular(limit: k + 50)
        for h in heldOut {
            let history = log.events(of: h.shopper)
            let context = RecommendationContext(events: history, productSKU: h.anchor, now: Date(timeIntervalSince1970: Double(h.timeMs) / 1000))
            let top = recommender.recommend(for: context, limit: k).map(\.sku)
            let hit = top.contains(h.answer)
            if hit { hits += 1 }
            let bought = Set(history.filter { $0.kind == .purchased }.map(\.sku))
            if popular.lazy.filter({ !bought.contains($0.sku) }).prefix(k).contains(where: { $0.sku == h.answer }) { baselineHits += 1 }
            if h.plantedPair {
                pairCases += 1
                if hit { pairHits += 1 }
            }
        }
        let n = max(1, heldOut.count)
        return Evaluation(
            cases: heldOut.count, k: k, recommenderHitRate: Double(hits) / Double(n), popularityHitRate: Double(baselineHits) / Double(n),
            plantedPairHitRate: Double(pairHits) / Double(max(1, pairCases)), plantedPairCases: pairCases)
    }
}
