import Assist
import Testing

@Suite struct AssistErrorTests {
    @Test func errorsCompareByCodeAndNameTheirDomain() {
        #expect(AssistError(.notFound, "sku A") == AssistError(.notFound, "sku B"))
        #expect(AssistError(.notFound, "x") != AssistError(.conflict, "x"))
        #expect(AssistError(.tooLarge, "catalog").description == "assist too_large: catalog")
    }
}
