@testable import Assist
import Foundation
import Testing

/// CSV (RFC 4180 quoting, row issues with line numbers, the rest imported) and JSON imports, the
/// caps, and that a refused import changes nothing.
@Suite struct CatalogImportTests {
    static func csv(_ text: String) -> Data { Data(text.utf8) }

    @Test func csvWithQuotedCommasQuotesAndLineBreaksImports() throws {
        let body = Self.csv(
            "sku,title,price,currency,image,category,stock,attr:size,attr:Colour\r\n"
                + "A-1,\"Sofa, three seats\",899.00,EUR,https://shop.example/a.jpg,Sofas,4,L,grey\r\n"
                + "A-2,\"The \"\"Cloud\"\" chair\nwith a line break\",49.9,EUR,,Chairs,0,,\r\n"
                + "A-3,Lamp,12,JPY,,,7,S,red")
        let result = try CatalogImport(csv: body)
        #expect(result.issues.isEmpty)
        #expect(result.products.map(\.sku) == ["A-1", "A-2", "A-3"])
        #expect(result.products[0].title == "Sofa, three seats")
        #expect(result.products[0].priceMinor == 89_900)
        #expect(result.products[0].attributes == ["size": "L", "Colour": "grey"])
        #expect(result.products[1].title == "The \"Cloud\" chair\nwith a line break")
        #expect(result.products[1].priceMinor == 4990)
        #expect(result.products[1].image == nil)
        #expect(result.products[1].attributes.isEmpty)
        #expect(result.products[1].stock == 0)
        #expect(result.products[2].priceMinor == 12)
        #expect(result.products[2].category == nil)
    }

    @Test func csvWithABOMCaseInsensitiveHeaderAndAClip() throws {
        var body = Data([0xEF, 0xBB, 0xBF])
        body.append(
            Self.csv(
                "SKU, Title ,Price,Currency,Stock,Video,Video_Duration,video_poster,video_width,video_height\n"
                    + "V-1, Clip shoe ,10.00,EUR,1,https://cdn.example/v.mp4,15,,720,1280\n"
                    + "V-2,No duration,10.00,EUR,1,https://cdn.example/v.mp4,,,,\n"
                    + "V-3,Too long,10.00,EUR,1,https://cdn.example/v.mp4,600,,,\n"))
        let result = try CatalogImport(body, format: .csv)
        #expect(result.products.map(\.sku) == ["V-1"])
        #expect(result.products[0].title == "Clip shoe")
        #expect(result.products[0].videos == [ProductVideo(url: "https://cdn.example/v.mp4", durationSeconds: 15, width: 720, height: 1280)])
        #expect(result.issues.map(\.line) == [3, 4])
        #expect(result.issues[1].reason.contains("durationSeconds"))
    }

    @Test func malformedRowsAreReportedWithTheirLineAndTheRestImported() throws {
        let body = Self.csv(
            """
            sku,title,price,currency,stock,extra
            OK-1,First,1.00,EUR,1,x
            BAD-PRICE,Second,1.0.0,EUR,1,x
            OK-2,"Third
            spans two lines",2.00,EUR,2,x
            BAD-FIELDS,Fourth,1.00,EUR
            BAD "QUOTE",Fifth,1.00,EUR,1,x
            BAD-STOCK,Sixth,1.00,EUR,-3,x
            BAD SKU,Seventh,1.00,EUR,1,x
            OK-3,Eighth,3.00,EUR,3,x
            BAD-AFTER,"Ninth"x,1.00,EUR,1,x
            OK-4,Tenth,4.00,EUR,4,x

            """)
        let result = try CatalogImport(csv: body)
        #expect(result.products.map(\.sku) == ["OK-1", "OK-2", "OK-3", "OK-4"])
        #expect(result.ignoredColumns == ["extra"])
        let lines = result.issues.map(\.line)
        #expect(lines == [3, 6, 7, 8, 9, 11])
        #expect(result.issues[0].reason.contains("price"))
        #expect(result.issues[1].reason.contains("expected 6 fields"))
        #expect(result.issues[2].reason.contains("quote"))
        #expect(result.issues[3].reason.contains("stock"))
        #expect(result.issues[4].reason.contains("sku"))
        #expect(result.issues[5].reason.contains("closing quote"))
        #expect(result.issues[0].description.hasPrefix("line 3 (sku BAD-PRICE)"))
    }

    @Test func anUnclosedQuoteIsReportedAtTheLineItOpens() throws {
        let result = try CatalogImport(csv: Self.csv("sku,title,price,currency,stock\nA,One,1,EUR,1\nB,\"Two,1,EUR,1\nC,Three,1,EUR,1\n"))
        #expect(result.products.map(\.sku) == ["A"])
        #expect(result.issues.map(\.line) == [3])
    }

    @Test func aFileThatCannotBeReadAtAllIsRefused() {
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(csv: Data()) }
        // No header: the first row is data.
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(csv: Self.csv("A-1,Sofa,1.00,EUR,3\n")) }
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(csv: Self.csv("sku,sku,title,price,currency,stock\n")) }
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(json: Data("not json".utf8)) }
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(json: Data("[{\"sku\": ".utf8)) }
        #expect(throws: AssistError(.invalidImport, "")) { try CatalogImport(json: Data("{\"items\": []}".utf8)) }
    }

    @Test func duplicateSKUsInOneFileLastRowWins() throws {
        let result = try CatalogImport(csv: Self.csv("sku,title,price,currency,stock\nA,Old,1,EUR,1\nB,Bee,2,EUR,1\nA,New,3,EUR,1\n"))
        #expect(result.products.map(\.sku) == ["A", "B"])
        #expect(result.products[0].title == "New")
        #expect(result.issues.count == 1)
        #expect(result.issues[0].line == 2)
        #expect(result.issues[0].reason.contains("line 4"))
    }

    @Test func jsonArrayOrEnvelopeWithPriceInEitherForm() throws {
        let array = Data(
            """
            [{"sku": "A", "title": "Sofa", "price": 899.9, "currency": "EUR", "stock": 2, "attributes": {"colour": "grey"}},
             {"sku": "B", "title": "Chair", "price": "49.90", "currency": "EUR", "stock": 0},
             {"sku": "C", "title": "Lamp", "priceMinor": 1250, "currency": "EUR", "stock": 1, "category": "Lamps",
              "videos": [{"url": "https://cdn.example/c.mp4", "durationSeconds": 12}]},
             {"sku": "D", "title": "No price", "currency": "EUR", "stock": 1},
             {"sku": "E", "title": "Bad", "price": 1.234, "currency": "EUR", "stock": 1},
             {"sku": "F", "title": "Bad stock", "price": 1, "currency": "EUR", "stock": "many"},
             42,
             {"sku": "G G", "title": "Bad sku", "price": 1, "currency": "EUR", "stock": 1}]
            """.utf8)
        let result = try CatalogImport(json: array)
        #expect(result.products.map(\.sku) == ["A", "B", "C"])
        #expect(result.products.map(\.priceMinor) == [89_990, 4990, 1250])
        #expect(result.products[2].videos.first?.durationSeconds == 12)
        #expect(result.issues.map(\.item) == [4, 5, 6, 7, 8])
        #expect(result.issues[0].sku == "D")
        let envelope = try CatalogImport(json: Data("{\"products\": [{\"sku\": \"A\", \"title\": \"Sofa\", \"price\": 1, \"currency\": \"EUR\", \"stock\": 2}]}".utf8))
        #expect(envelope.products.map(\.sku) == ["A"])
    }

    @Test func exportImportsBackToTheSameProducts() throws {
        let products = [
            ProductTests.valid,
            Product(sku: "X,1", title: "Quote \" and\nbreak", priceMinor: 1, currency: "JPY", attributes: ["size": "M"], stock: 0),
        ]
        #expect(try CatalogImport(csv: CatalogExport.csv(products)).products == products)
        #expect(try CatalogImport(json: CatalogExport.json(products)).products == products)
    }

    @Test func anOversizeCatalogIsRefusedAndTheCatalogUnchanged() throws {
        var catalog = try Catalog(products: [ProductTests.valid])
        let before = catalog.products
        func importAndReplace(_ body: Data, _ format: CatalogImport.Format, _ limits: CatalogImport.Limits = .default) throws {
            let result = try CatalogImport(body, format: format, limits: limits)
            try catalog.replace(with: result.products)
        }
        // The body cap is checked before anything is read.
        let huge = Data(count: CatalogImport.maximumBodyBytes + 1)
        #expect(throws: AssistError(.tooLarge, "")) { try importAndReplace(huge, .csv) }
        #expect(throws: AssistError(.tooLarge, "")) { try importAndReplace(huge, .json) }
        // The product cap (smaller limits here so the test is quick; the default is 200,000).
        let limits = CatalogImport.Limits(maximumBodyBytes: 1 << 20, maximumProducts: 3)
        let rows = (0..<4).map { "S\($0),T,1,EUR,1" }.joined(separator: "\n")
        #expect(throws: AssistError(.tooLarge, "")) { try importAndReplace(Self.csv("sku,title,price,currency,stock\n" + rows), .csv, limits) }
        let json = try CatalogExport.json((0..<4).map { Product(sku: "S\($0)", title: "T", priceMinor: 1, currency: "EUR", stock: 1) })
        #expect(throws: AssistError(.tooLarge, "")) { try importAndReplace(json, .json, limits) }
        #expect(throws: AssistError(.tooLarge, "")) { try importAndReplace(Self.csv("sku,title,price,currency,stock\n" + rows), .csv, .init(maximumBodyBytes: 10)) }
        #expect(catalog.products == before)
        // The catalog itself refuses more than the cap too.
        #expect(CatalogImport.maximumProducts == 200_000)
    }

    /// A JSON array of 200,001 bare zeros is refused before it is decoded (decoding first would
    /// make an entry per element: a 64 MiB body of them is 32 million entries, gigabytes);
    /// nested arrays inside products and strings holding commas do not count as products.
    @Test func jsonElementsAreCountedBeforeDecoding() throws {
        var bomb = Data("[".utf8)
        bomb.append(contentsOf: Array(repeating: Array("0,".utf8), count: CatalogImport.maximumProducts).joined())
        bomb.append(contentsOf: Array("0]".utf8))
        #expect(throws: AssistError(.tooLarge, "")) { try CatalogImport(json: bomb) }
        let wrapped = Data("{\"products\": ".utf8) + bomb + Data("}".utf8)
        #expect(throws: AssistError(.tooLarge, "")) { try CatalogImport(json: wrapped) }
        #expect(CatalogImport.countElements(Data(#"[{"sku":"A,B","attributes":{"a":"1","b":"2"}},{"sku":"C"}]"#.utf8), depth: 1) == 2)
        #expect(CatalogImport.countElements(Data(#"{"products":[{"sku":"A"},{"sku":"B"},{"sku":"C"}]}"#.utf8), depth: 2) == 3)
        #expect(CatalogImport.countElements(Data("[]".utf8), depth: 1) == 0)
    }

    /// A CSV record of a million commas is one reported row, not a million fields.
    @Test func aRecordWithTooManyFieldsIsReportedNotAllocated() throws {
        let csv = "sku,title,price,currency,stock\nA-1,Alpha,1.00,EUR,1\n" + String(repeating: ",", count: 1_000_000) + "\nB-1,Beta,2.00,EUR,2\n"
        let result = try CatalogImport(csv: Data(csv.utf8))
        #expect(result.products.map(\.sku) == ["A-1", "B-1"])
        #expect(result.issues.first?.line == 3, "\(result.issues)")
    }
}
