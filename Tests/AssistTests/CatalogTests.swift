import Assist
import Testing

/// The in-memory catalog: lookups and postings, partial updates that change nothing when refused,
/// SKU mentions in chat text.
@Suite struct CatalogTests {
    static func product(_ sku: String, category: String? = "Shoes", size: String = "42", colour: String = "black", stock: Int = 5) -> Product {
        Product(sku: sku, title: "Product \(sku)", priceMinor: 5_000, currency: "EUR", category: category, attributes: ["size": size, "colour": colour], stock: stock)
    }

    @Test func indexesBySKUCategoryAndAttribute() throws {
        let catalog = try Catalog(products: [
            Self.product("A"), Self.product("B", size: "43"), Self.product("C", category: "Bags", colour: "red"), Self.product("D", category: nil),
        ])
        #expect(catalog.count == 4)
        #expect(catalog.product(sku: "B")?.attributes["size"] == "43")
        #expect(catalog.product(sku: "Z") == nil)
        #expect(catalog.products(inCategory: "Shoes").map(\.sku) == ["A", "B"])
        #expect(catalog.skus(withAttribute: "colour", "black") == ["A", "B", "D"])
        #expect(catalog.skus(withAttribute: "size", "43") == ["B"])
        #expect(catalog.categories.map(\.name) == ["Bags", "Shoes"])
    }

    @Test func aCatalogRefusesDuplicatesAndInvalidProducts() {
        #expect(throws: AssistError(.conflict, "")) { try Catalog(products: [Self.product("A"), Self.product("A")]) }
        #expect(throws: AssistError(.invalidArgument, "")) { try Catalog(products: [Self.product("A B")]) }
    }

    @Test func upsertReplacesBySKUAndKeepsTheIndexesRight() throws {
        var catalog = try Catalog(products: [Self.product("A"), Self.product("B")])
        try catalog.upsert([Self.product("A", category: "Bags", colour: "red"), Self.product("C")])
        #expect(catalog.products.map(\.sku) == ["A", "B", "C"])
        #expect(catalog.products(inCategory: "Shoes").map(\.sku) == ["B", "C"])
        #expect(catalog.products(inCategory: "Bags").map(\.sku) == ["A"])
        #expect(catalog.skus(withAttribute: "colour", "black") == ["B", "C"])
        // A refused upsert changes nothing.
        let before = catalog.products
        #expect(throws: AssistError(.invalidArgument, "")) { try catalog.upsert([Self.product("D"), Self.product("E", stock: -1)]) }
        #expect(catalog.products == before)
    }

    @Test func stockUpdatesAreAllOrNothingAndAnUnknownSKUIsNotFound() throws {
        var catalog = try Catalog(products: [Self.product("A"), Self.product("B")])
        try catalog.setStock([StockUpdate(sku: "A", stock: 0)])
        #expect(catalog.product(sku: "A")?.inStock == false)
        #expect(throws: AssistError(.notFound, "")) { try catalog.setStock([StockUpdate(sku: "B", stock: 9), StockUpdate(sku: "NOPE", stock: 1)]) }
        #expect(catalog.product(sku: "B")?.stock == 5)
        #expect(throws: AssistError(.invalidArgument, "")) { try catalog.setStock([StockUpdate(sku: "B", stock: -1)]) }
    }

    @Test func aFullReplaceKeepsPopularityOfTheSKUsThatRemain() throws {
        var catalog = try Catalog(products: [Self.product("A"), Self.product("B")])
        catalog.recordActivity([ShopperEvent(shopper: "s", kind: .purchased, sku: "B", timeMs: 1_800_000_000_000)])
        #expect(catalog.popularity(of: "B") == 5)
        try catalog.replace(with: [Self.product("B"), Self.product("C")])
        #expect(catalog.popularity(of: "B") == 5)
        #expect(catalog.product(sku: "A") == nil)
        #expect(catalog.mostPopular(limit: 1).map(\.sku) == ["B"])
    }

    @Test func mentionsFindExactSKUTokensInOrder() throws {
        let catalog = try Catalog(products: [Self.product("SKU-12"), Self.product("SKU-7"), Self.product("a.b")])
        #expect(catalog.mentions(in: "Do you have SKU-7 and (SKU-12)? SKU-7 again, and #SKU-12.") == ["SKU-7", "SKU-12"])
        #expect(catalog.mentions(in: "sku-12 SKU-123 xSKU-7") == [])
        #expect(catalog.mentions(in: "the a.b.") == ["a.b"])
        #expect(catalog.mentions(in: "") == [])
        let many = try Catalog(products: (0..<30).map { Self.product("P\($0)") })
        #expect(many.mentions(in: (0..<30).map { "P\($0)" }.joined(separator: " ")).count == Catalog.maximumMentions)
    }
}
