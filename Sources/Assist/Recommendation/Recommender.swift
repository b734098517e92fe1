import Foundation

/// Ranks in-stock products for an open consultation (docs/assist.md, "Recommendations").
///
/// **Score** = Σ weight × signal, each signal in [0, 1] (weights in ``RecommenderWeights``):
///
/// | signal | value for product p |
/// |---|---|
/// | discussed | 1 if p is the consultation's product or mentioned in the chat |
/// | in cart | d(time since p was last added), if p is in the cart |
/// | viewed | d(time since p was last viewed) |
/// | bought together | min(1, Σ over seeds s: w(s) · c(s,p) / (c(s,p) + 1)), c = co-purchase count |
/// | similar | 0.6 · category affinity + 0.4 · attribute affinity |
/// | popularity | log(1 + pop(p)) / log(1 + max pop of the candidates) |
///
/// where d(t) = 0.5^(t / half-life) (72 h), and the **seeds** are the products the shopper
/// interacted with, weighted w(s) = the largest of: 1 discussed, 0.9·d in cart, 0.8·d′ bought
/// (half-life 60 days), 0.6·d viewed; the ``RecommenderWeights/maximumSeeds`` heaviest are used.
/// Category affinity = (Σ w of seeds in p's category, plus 1 for the context category) / (the
/// same for the heaviest category). Attribute affinity = the mean, over p's attributes whose name
/// some seed has, of the share of seed weight on p's value (a shopper of size M products gives
/// size=M affinity 1).
///
/// **Filters**: only products in stock; never a product the shopper bought (in the retained
/// events: they have it; consumables are the shop's business for a later version) nor one in
/// ``RecommendationContext/exclude``.
///
/// **Ties**: equal scores are ordered by SKU, so the same inputs give the same list.
///
/// **Bounded work**: the catalog is never scored whole. Candidates are gathered from the signals'
/// neighbourhoods: the discussed, cart and viewed products, the co-purchase partners of the
/// seeds, the best ``RecommenderWeights/perCategory`` products of the heaviest categories (a scan
/// of at most ``RecommenderWeights/categoryScanLimit`` each), and the most popular products; at
/// most ``RecommenderWeights/maximumCandidates`` are scored.
public struct Recommender: Sendable {
    public static let maximumLimit = 100

    public var catalog: Catalog
    public var coPurchases: CoPurchaseIndex
    public var weights: RecommenderWeights

    public init(catalog: Catalog, coPurchases: CoPurchaseIndex, weights: RecommenderWeights = .default) {
        self.catalog = catalog
        self.coPurchases = coPurchases
        self.weights = weights
    }

    /// Why a product is a seed (its strongest interaction).
    enum Role: Int, Comparable {
        case viewed, bought, inCart, discussed
        static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

        var phrase: String {
            switch self {
            case .viewed: "what they viewed"
            case .bought: "what they bought"
            case .inCart: "what is in their cart"
            case .discussed: "what is being discussed"
            }
        }
    }

    struct Seed {
        var weight: Double
        var role: Role
    }

    /// The best `limit` (at most ``maximumLimit``) in-stock products for the context, best first.
    public func recommend(for context: RecommendationContext, limit: Int = 10) -> [Recommendation] {
        let limit = min(max(0, limit), Self.maximumLimit)
        guard limit > 0, !catalog.isEmpty else { return [] }
        let w = weights
        let nowMs = ShopperEvent.milliseconds(context.now)
        func decay(_ timeMs: Int64, halfLifeHours: Double) -> Double {
            let age = Double(max(0, nowMs - timeMs)) / 3_600_000
            return pow(0.5, age / halfLifeHours)
        }

        // 1. The shopper's state from their events.
        var events = context.events
        if !events.isEmpty, zip(events, events.dropFirst()).contains(where: { $0.timeMs > $1.timeMs }) {
            events.sort { $0.timeMs < $1.timeMs }
        }
        var lastViewed: [String: Int64] = [:]
        var viewOrder: [String] = []
        var cartQuantity: [String: Int] = [:]
        var cartAdded: [String: Int64] = [:]
        var lastBought: [String: Int64] = [:]
        for e in events {
            switch e.kind {
            case .viewed:
                if lastViewed.updateValue(e.timeMs, forKey: e.sku) == nil { viewOrder.append(e.sku) }
            case .addedToCart:
                cartQuantity[e.sku, default: 0] += e.quantity
                cartAdded[e.sku] = e.timeMs
            case .removedFromCart:
                cartQuantity[e.sku] = max(0, (cartQuantity[e.sku] ?? 0) - e.quantity)
            case .purchased:
                cartQuantity[e.sku] = max(0, (cartQuantity[e.sku] ?? 0) - e.quantity)
                lastBought[e.sku] = e.timeMs
            }
        }
        var discussed: [String: Bool] = [:]  // sku → is the context product
        for sku in context.mentionedSKUs.prefix(Catalog.maximumMentions) where catalog.contains(sku: sku) { discussed[sku] = false }
        if let sku = context.productSKU, catalog.contains(sku: sku) { discussed[sku] = true }

        // 2. Seeds.
        var seeds: [String: Seed] = [:]
        func offer(_ sku: String, _ weight: Double, _ role: Role) {
            guard weight > 0, catalog.contains(sku: sku) else { return }
            if let s = seeds[sku], s.weight >= weight { return }
            seeds[sku] = Seed(weight: weight, role: role)
        }
        for (sku, t) in lastViewed { offer(sku, 0.6 * decay(t, halfLifeHours: w.recentHalfLifeHours), .viewed) }
        for (sku, t) in lastBought { offer(sku, 0.8 * decay(t, halfLifeHours: w.purchaseHalfLifeHours), .bought) }
        for (sku, q) in cartQuantity where q > 0 { offer(sku, 0.9 * decay(cartAdded[sku] ?? nowMs, halfLifeHours: w.recentHalfLifeHours), .inCart) }
        for sku in discussed.keys { offer(sku, 1, .discussed) }
        let topSeeds = seeds.sorted { $0.value.weight != $1.value.weight ? $0.value.weight > $1.value.weight : $0.key < $1.key }.prefix(w.maximumSeeds)

        // 3. Affinities: categories and attribute values, weighted by seed.
        var categoryWeight: [String: Double] = [:]
        var categoryRole: [String: (Role, Double)] = [:]
        var attributeWeight: [String: [String: Double]] = [:]
        for (sku, seed) in topSeeds {
            guard let p = catalog.product(sku: sku) else { continue }
            if let c = p.category {
                categoryWeight[c, default: 0] += seed.weight
                if (categoryRole[c]?.1 ?? -1) < seed.weight { categoryRole[c] = (seed.role, seed.weight) }
            }
            for (name, value) in p.attributes { attributeWeight[name, default: [:]][value, default: 0] += seed.weight }
        }
        if let c = context.category {
            categoryWeight[c, default: 0] += 1
            if categoryRole[c] == nil { categoryRole[c] = (.discussed, 1) }
        }
        let maxCategoryWeight = categoryWeight.values.max() ?? 0
        var attributeTotals: [String: Double] = [:]
        for (name, values) in attributeWeight { attributeTotals[name] = values.values.reduce(0, +) }
        func categoryAffinity(_ p: Product) -> Double {
            guard maxCategoryWeight > 0, let c = p.category, let cw = categoryWeight[c] else { return 0 }
            return cw / maxCategoryWeight
        }
        func attributeAffinity(_ p: Product) -> Double {
            guard !attributeWeight.isEmpty else { return 0 }
            var sum = 0.0, names = 0
            for (name, value) in p.attributes {
                guard let values = attributeWeight[name], let total = attributeTotals[name], total > 0 else { continue }
                names += 1
                sum += (values[value] ?? 0) / total
            }
            return names == 0 ? 0 : sum / Double(names)
        }
        /// The attributes on whose value most of the seeds' weight lies (for the reasons).
        func sharedAttributes(_ p: Product) -> [(String, String)] {
            p.attributes.filter { name, value in
                guard let values = attributeWeight[name], let total = attributeTotals[name], total > 0 else { return false }
                return (values[value] ?? 0) / total >= 0.5
            }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        // 4. Candidates, bounded.
        func eligible(_ p: Product) -> Bool { p.stock > 0 && lastBought[p.sku] == nil && !context.exclude.contains(p.sku) }
        var candidates: [Int] = []
        var isCandidate = Set<Int>()
        candidates.reserveCapacity(w.maximumCandidates)
        func add(_ sku: String) {
            guard candidates.count < w.maximumCandidates, let slot = catalog.slotBySKU[sku], eligible(catalog.products[slot]) else { return }
            if isCandidate.insert(slot).inserted { candidates.append(slot) }
        }
        func add(slot: Int) {
            guard candidates.count < w.maximumCandidates else { return }
            if isCandidate.insert(slot).inserted { candidates.append(slot) }
        }
        for sku in discussed.keys.sorted() { add(sku) }
        for sku in cartQuantity.keys.sorted() where (cartQuantity[sku] ?? 0) > 0 { add(sku) }
        for sku in viewOrder.reversed().prefix(50) { add(sku) }

        // Bought together: partners of the seeds, with each partner's evidence for the reasons.
        var together: [String: (score: Double, seed: String, count: Int, best: Double)] = [:]
        for (sku, seed) in topSeeds {
            for partner in coPurchases.partners(of: sku, limit: w.partnersPerSeed) {
                let c = Double(partner.count)
                let contribution = seed.weight * c / (c + 1)
                var t = together[partner.sku] ?? (0, sku, partner.count, 0)
                t.score += contribution
                if contribution > t.best { (t.seed, t.count, t.best) = (sku, partner.count, contribution) }
                together[partner.sku] = t
            }
        }
        for (sku, _) in together.sorted(by: { $0.value.score != $1.value.score ? $0.value.score > $1.value.score : $0.key < $1.key }) { add(sku) }

        // Similar: the heaviest categories, best by attribute affinity then popularity.
        let topCategories = categoryWeight.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(w.maximumCategories)
        for (category, _) in topCategories {
            guard let posting = catalog.byCategory[category] else { continue }
            var best = TopK<Int>(capacity: w.perCategory)
            for slot in posting.prefix(w.categoryScanLimit) {
                let p = catalog.products[slot]
                guard eligible(p) else { continue }
                // Affinity dominates; popularity (log-scaled, < 1 for any realistic count) orders within it.
                let key = attributeAffinity(p) * 100 + log1p(catalog.popularity[slot])
                best.insert(slot, score: key, tieBreak: p.sku)
            }
            for slot in best.sorted() { add(slot: slot) }
        }

        // Popular: the cold-start fallback.
        if w.popularCandidates > 0 {
            var best = TopK<Int>(capacity: w.popularCandidates)
            for (slot, pop) in catalog.popularity.enumerated() where best.mayAccept(pop) {
                let p = catalog.products[slot]
                guard eligible(p) else { continue }
                best.insert(slot, score: pop, tieBreak: p.sku)
            }
            for slot in best.sorted() { add(slot: slot) }
        }

        // 5. Score every candidate; words (reasons) only for the ones returned.
        let maxPopularity = candidates.map { catalog.popularity[$0] }.max() ?? 0
        var scored: [(slot: Int, signals: Recommendation.Signals, score: Double)] = []
        scored.reserveCapacity(candidates.count)
        for slot in candidates {
            let p = catalog.products[slot]
            var s = Recommendation.Signals()
            if discussed[p.sku] != nil { s.discussed = w.discussed }
            if (cartQuantity[p.sku] ?? 0) > 0 { s.inCart = w.inCart * decay(cartAdded[p.sku] ?? nowMs, halfLifeHours: w.recentHalfLifeHours) }
            if let t = lastViewed[p.sku] { s.viewed = w.viewed * decay(t, halfLifeHours: w.recentHalfLifeHours) }
            if let t = together[p.sku] { s.boughtTogether = w.boughtTogether * min(1, t.score) }
            s.similar = w.similar * (0.6 * categoryAffinity(p) + 0.4 * attributeAffinity(p))
            if maxPopularity > 0 { s.popularity = w.popularity * log1p(catalog.popularity[slot]) / log1p(maxPopularity) }
            scored.append((slot, s, s.total))
        }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : catalog.products[$0.slot].sku < catalog.products[$1.slot].sku }
        return scored.prefix(limit).map { entry in
            let p = catalog.products[entry.slot]
            let s = entry.signals
            var reasons: [(Double, String)] = []
            if let isContext = discussed[p.sku] { reasons.append((s.discussed, isContext ? "the product they asked about" : "mentioned in chat")) }
            if s.inCart > 0 { reasons.append((s.inCart, "in their cart")) }
            if let t = lastViewed[p.sku] { reasons.append((s.viewed, "viewed \(Self.age(nowMs - t)) ago")) }
            if let t = together[p.sku] {
                reasons.append((s.boughtTogether, "bought together with \(t.seed) in \(t.count) order\(t.count == 1 ? "" : "s")"))
            }
            let category = categoryAffinity(p)
            if category > 0, let c = p.category, let role = categoryRole[c]?.0 {
                reasons.append((w.similar * 0.6 * category, "same category (\(c)) as \(role.phrase)"))
            }
            let attributes = attributeAffinity(p)
            let shared = sharedAttributes(p)
            if !shared.isEmpty {
                let list = shared.prefix(3).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
                reasons.append((w.similar * 0.4 * attributes, "same \(list) as they prefer"))
            }
            if s.popularity > 0 { reasons.append((s.popularity, "popular in the shop")) }
            let sortedReasons = reasons.enumerated().sorted { $0.element.0 != $1.element.0 ? $0.element.0 > $1.element.0 : $0.offset < $1.offset }.map(\.element.1)
            return Recommendation(product: p, score: entry.score, signals: s, reasons: sortedReasons)
        }
    }

    /// "40 min", "3 h", "2 days".
    static func age(_ ms: Int64) -> String {
        let minutes = max(0, ms) / 60_000
        if minutes < 60 { return "\(max(1, minutes)) min" }
        if minutes < 48 * 60 { return "\(minutes / 60) h" }
        return "\(minutes / 1440) days"
    }
}
