import Assist
import Testing

/// Product validation names the field it refuses; prices format with the currency's decimals.
@Suite struct ProductTests {
    static let valid = Product(
        sku: "SOFA-3", title: "Sofa, three seats", priceMinor: 89_900, currency: "EUR", image: "https://shop.example/sofa.jpg", category: "Sofas",
        attributes: ["colour": "grey"], stock: 4,
        videos: [ProductVideo(url: "https://cdn.example/sofa.mp4", poster: "https://cdn.example/sofa.jpg", durationSeconds: 20, width: 720, height: 1280)])

    @Test func aValidProductPasses() throws {
        try Self.valid.validate()
        #expect(Self.valid.inStock)
    }

    @Test func anInvalidFieldIsRefusedByName() {
        let cases: [(String, (inout Product) -> Void)] = [
            ("sku", { $0.sku = "" }),
            ("sku", { $0.sku = "HAS SPACE" }),
            ("sku", { $0.sku = String(repeating: "A", count: 65) }),
            ("sku", { $0.sku = "SKU-é" }),
            ("title", { $0.title = "" }),
            ("title", { $0.title = "   " }),
            ("title", { $0.title = String(repeating: "t", count: 201) }),
            ("priceMinor", { $0.priceMinor = -1 }),
            ("currency", { $0.currency = "eur" }),
            ("currency", { $0.currency = "EURO" }),
            ("image", { $0.image = "ftp://shop.example/a.jpg" }),
            ("image", { $0.image = "not a url" }),
            ("category", { $0.category = String(repeating: "c", count: 101) }),
            ("attributes", { $0.attributes = Dictionary(uniqueKeysWithValues: (0..<33).map { ("a\($0)", "v") }) }),
            ("attribute", { $0.attributes = ["size": ""] }),
            ("stock", { $0.stock = -1 }),
            ("durationSeconds", { $0.videos[0].durationSeconds = 121 }),
            ("url", { $0.videos[0].url = "javascript:alert(1)" }),
            ("width", { $0.videos[0].width = 5 }),
        ]
        for (field, change) in cases {
            var p = Self.valid
            change(&p)
            do {
                try p.validate()
                Issue.record("accepted a bad \(field)")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.detail.contains(field), "\(error.detail) names \(field)")
            }
        }
    }

    @Test func pricesFormatWithTheCurrencysDecimalsAndCode() {
        #expect(Self.valid.formattedPrice == "899.00 EUR")
        #expect(Currency.format(4990, "EUR") == "49.90 EUR")
        #expect(Currency.format(5, "USD") == "0.05 USD")
        #expect(Currency.format(1500, "JPY") == "1500 JPY")
        #expect(Currency.format(1500, "KWD") == "1.500 KWD")
        #expect(Currency.format(-250, "USD") == "-2.50 USD")
    }

    @Test func decimalPricesParseToMinorUnits() {
        #expect(Currency.parseMinor("49.90", "EUR") == 4990)
        #expect(Currency.parseMinor("49.9", "EUR") == 4990)
        #expect(Currency.parseMinor("49", "EUR") == 4900)
        #expect(Currency.parseMinor("0.5", "EUR") == 50)
        #expect(Currency.parseMinor("1500", "JPY") == 1500)
        #expect(Currency.parseMinor("1.5", "JPY") == nil)
        #expect(Currency.parseMinor("49.999", "EUR") == nil)
        #expect(Currency.parseMinor("-1", "EUR") == nil)
        #expect(Currency.parseMinor("1,000", "EUR") == nil)
        #expect(Currency.parseMinor("", "EUR") == nil)
        #expect(Currency.parseMinor(".", "EUR") == nil)
        #expect(Currency.parseMinor("99999999999999999999", "EUR") == nil)
    }
}
