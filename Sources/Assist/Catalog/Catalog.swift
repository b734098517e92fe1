/// The shop's catalog in memory, indexed for the recommender and the workspace: products by SKU,
/// by category and by attribute (`name=value` postings), and each product's popularity (from the
/// shoppers' events, see ``recordActivity(_:)``).
///
/// A value: the server's actor holds one and replaces it whole on a full import
/// (``replace(with:)``), or changes it by ``upsert(_:)`` and ``setStock(_:)``. Every mutating call
/// validates everything first and changes nothing when it throws.
///
/// Postings hold product slots (indices into ``products``) in ascending order; a slot never
/// moves except on ``replace(with:)``, which rebuilds every index.
public struct Catalog: Sendable {
    /// At most this many SKUs are returned by ``mentions(in:)``.
    public static let maximumMentions = 20
    /// ``mentions(in:)`` reads at most this many bytes of a message.
    public static let maximumMentionTextBytes = 8192

    /// How much one event adds to a product's popularity: a purchase says more than a view.
    public static let popularityWeights: [ShopperEvent.Kind: Double] = [.viewed: 1, .addedToCart: 3, .removedFromCart: 0, .purchased: 5]

    /// Every product, in import order; a product's position is its slot.
    public private(set) var products: [Product] = []
    private(set) var slotBySKU: [String: Int] = [:]
    private(set) var byCategory: [String: [Int]] = [:]
    private(set) var byAttribute: [String: [Int]] = [:]
    /// Per slot: the sum of ``popularityWeights`` of the events recorded for the product.
    private(set) var popularity: [Double] = []

    /// An empty catalog.
    public init() {}

    /// A catalog of `products`.
    /// - Throws: ``AssistError`` `invalid_argument` (an invalid product; the detail names it),
    ///   `conflict` (a SKU twice), `too_large` (more than ``CatalogImport/maximumProducts``).
    public init(products: [Product]) throws(AssistError) {
        try replace(with: products)
    }

    public var count: Int { products.count }
    public var isEmpty: Bool { products.isEmpty }

    /// The product with this SKU.
    public func product(sku: String) -> Product? {
        slotBySKU[sku].map { products[$0] }
    }

    public func contains(sku: String) -> Bool { slotBySKU[sku] != nil }

    /// The categories with their number of products, sorted by name.
    public var categories: [(name: String, count: Int)] {
        byCategory.map { ($0.key, $0.value.count) }.sorted { $0.name < $1.name }
    }

    /// The products of a category, in catalog order.
    public func products(inCategory category: String) -> [Product] {
        (byCategory[category] ?? []).map { products[$0] }
    }

    /// The SKUs of the products whose attribute `name` is `value`, in catalog order.
    public func skus(withAttribute name: String, _ value: String) -> [String] {
        (byAttribute[Self.attributeKey(name, value)] ?? []).map { products[$0].sku }
    }

    /// A product's popularity: the weighted count of its recorded events (0 if unknown).
    public func popularity(of sku: String) -> Double {
        slotBySKU[sku].map { popularity[$0] } ?? 0
    }

    /// Replaces the whole catalog (a full import). Popularity is kept for the SKUs that remain.
    /// - Throws: as ``init(products:)``; the catalog is unchanged then.
    public mutating func replace(with newProducts: [Product]) throws(AssistError) {
        guard newProducts.count <= CatalogImport.maximumProducts else {
            throw AssistError(.tooLarge, "\(newProducts.count) products; the limit is \(CatalogImport.maximumProducts)")
        }
        var slots: [String: Int] = [:]
        slots.reserveCapacity(newProducts.count)
        for (i, product) in newProducts.enumerated() {
            try product.validate()
            guard slots.updateValue(i, forKey: product.sku) == nil else { throw AssistError(.conflict, "sku \(product.sku) appears twice") }
        }
        var newPopularity = [Double](repeating: 0, count: newProducts.count)
        for (sku, old) in slotBySKU {
            if let new = slots[sku] { newPopularity[new] = popularity[old] }
        }
        products = newProducts
        slotBySKU = slots
        popularity = newPopularity
        byCategory = [:]
        byAttribute = [:]
        for (slot, product) in products.enumerated() { index(slot, product) }
    }

    /// Adds new products and replaces existing ones by SKU (a partial update); the others stay.
    /// - Throws: `invalid_argument`, `conflict` (a SKU twice in `changes`), `too_large` (the
    ///   catalog would pass its cap); nothing changes then.
    public mutating func upsert(_ changes: [Product]) throws(AssistError) {
        var seen = Set<String>()
        var added = 0
        for product in changes {
            try product.validate()
            guard seen.insert(product.sku).inserted else { throw AssistError(.conflict, "sku \(product.sku) appears twice") }
            if slotBySKU[product.sku] == nil { added += 1 }
        }
        guard products.count + added <= CatalogImport.maximumProducts else {
            throw AssistError(.tooLarge, "the catalog would hold \(products.count + added) products; the limit is \(CatalogImport.maximumProducts)")
        }
        for product in changes {
            if let slot = slotBySKU[product.sku] {
                unindex(slot, products[slot])
                products[slot] = product
                index(slot, product)
            } else {
                let slot = products.count
                products.append(product)
                popularity.append(0)
                slotBySKU[product.sku] = slot
                index(slot, product)
            }
        }
    }

    /// Sets the stock of products by SKU (the shop's stock feed between full imports).
    /// - Throws: `not_found` naming the first unknown SKU, `invalid_argument` for a negative
    ///   stock; nothing changes then.
    public mutating func setStock(_ changes: [StockUpdate]) throws(AssistError) {
        var slots: [Int] = []
        slots.reserveCapacity(changes.count)
        for change in changes {
            guard let slot = slotBySKU[change.sku] else { throw AssistError(.notFound, "no product with sku \(change.sku.prefix(80))") }
            guard change.stock >= 0 else { throw AssistError(.invalidArgument, "sku \(change.sku): stock ≥ 0") }
            slots.append(slot)
        }
        for (slot, change) in zip(slots, changes) { products[slot].stock = change.stock }
    }

    /// Adds events to the products' popularity (``popularityWeights``). Events for SKUs not in the
    /// catalog are skipped.
    public mutating func recordActivity(_ events: some Sequence<ShopperEvent>) {
        for event in events {
            guard let slot = slotBySKU[event.sku], let weight = Self.popularityWeights[event.kind] else { continue }
            popularity[slot] += weight
        }
    }

    /// The most popular products, in stock only if asked, of one category or of all; ties by SKU.
    /// Scans the category (or the catalog): O(n log limit).
    public func mostPopular(limit: Int, category: String? = nil, inStockOnly: Bool = true) -> [Product] {
        var top = TopK<Int>(capacity: max(0, limit))
        let consider = { (slot: Int) in
            guard top.mayAccept(self.popularity[slot]) else { return }
            let p = self.products[slot]
            if inStockOnly, p.stock <= 0 { return }
            top.insert(slot, score: self.popularity[slot], tieBreak: p.sku)
        }
        if let category {
            for slot in byCategory[category] ?? [] { consider(slot) }
        } else {
            for slot in products.indices { consider(slot) }
        }
        return top.sorted().map { products[$0] }
    }

    /// The SKUs of this catalog mentioned in a chat message, in order of first mention, at most
    /// ``maximumMentions``, reading at most ``maximumMentionTextBytes``.
    ///
    /// A mention is an exact, case-sensitive token: the text is split at whitespace, and a token
    /// counts with or without the punctuation around it (`"SKU-12,"`, `"(SKU-12)"`, `"#SKU-12"`).
    /// Titles are not matched: free text would match too much, and the agent sees the product
    /// context anyway.
    public func mentions(in text: String) -> [String] {
        var found: [String] = []
        var seen = Set<String>()
        let bytes = text.utf8.prefix(Self.maximumMentionTextBytes)
        var start = bytes.startIndex
        func consider(_ token: Substring.UTF8View.SubSequence) {
            guard !token.isEmpty, token.count <= Product.maximumSKUBytes * 2 else { return }
            var candidates = [String(decoding: token, as: UTF8.self)]
            var lo = token.startIndex, hi = token.endIndex
            while lo < hi, Self.isEdgePunctuation(token[lo]) { lo = token.index(after: lo) }
            while hi > lo, Self.isEdgePunctuation(token[token.index(before: hi)]) { hi = token.index(before: hi) }
            if lo < hi, lo != token.startIndex || hi != token.endIndex {
                candidates.append(String(decoding: token[lo..<hi], as: UTF8.self))
            }
            for sku in candidates where slotBySKU[sku] != nil {
                if seen.insert(sku).inserted { found.append(sku) }
                return
            }
        }
        var i = bytes.startIndex
        while i < bytes.endIndex, found.count < Self.maximumMentions {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 {
                consider(bytes[start..<i])
                start = bytes.index(after: i)
            }
            i = bytes.index(after: i)
        }
        if found.count < Self.maximumMentions { consider(bytes[start..<bytes.endIndex]) }
        return found
    }

    private static func isEdgePunctuation(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "!"), UInt8(ascii: "?"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"),
            UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "#"), UInt8(ascii: "<"), UInt8(ascii: ">"):
            return true
        default: return false
        }
    }

    static func attributeKey(_ name: String, _ value: String) -> String { name + "=" + value }

    private mutating func index(_ slot: Int, _ product: Product) {
        if let category = product.category { Self.insert(slot, into: &byCategory[category, default: []]) }
        for (name, value) in product.attributes { Self.insert(slot, into: &byAttribute[Self.attributeKey(name, value), default: []]) }
    }

    private mutating func unindex(_ slot: Int, _ product: Product) {
        if let category = product.category { Self.remove(slot, from: &byCategory, key: category) }
        for (name, value) in product.attributes { Self.remove(slot, from: &byAttribute, key: Self.attributeKey(name, value)) }
    }

    /// Keeps a posting sorted: appending is the common case (a new slot is the largest).
    private static func insert(_ slot: Int, into posting: inout [Int]) {
        if let last = posting.last, last > slot {
            let at = lowerBound(posting, slot)
            if at < posting.count, posting[at] == slot { return }
            posting.insert(slot, at: at)
        } else if posting.last != slot {
            posting.append(slot)
        }
    }

    private static func remove(_ slot: Int, from postings: inout [String: [Int]], key: String) {
        guard var posting = postings[key] else { return }
        let at = lowerBound(posting, slot)
        guard at < posting.count, posting[at] == slot else { return }
        posting.remove(at: at)
        postings[key] = posting.isEmpty ? nil : posting
    }

    private static func lowerBound(_ a: [Int], _ x: Int) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
