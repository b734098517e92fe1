import Assist
import Testing

/// Filling a script's variables and flagging what the agent must fix before sending.
@Suite struct ScriptTemplateTests {
    let values = ["shopper.name": "Sam", "agent.name": "Ada", "product.title": "Sofa Aalto", "product.price": "€ 1.299,00", "order.id": ""]

    @Test func knownVariablesAreFilledWithOrWithoutSpaces() {
        let r = ScriptTemplate.render("Hi {{shopper.name}}, I am {{ agent.name }}. {{product.title}} costs {{product.price}}.", values)
        #expect(r.text == "Hi Sam, I am Ada. Sofa Aalto costs € 1.299,00.")
        #expect(r.flags.isEmpty)
        #expect(r.isReady)
    }

    @Test func unknownVariablesAreFlaggedAndLeftAsWritten() {
        let r = ScriptTemplate.render("Hi {{shopper.nmae}}!", ["shopper.nmae": "Sam"])
        #expect(r.text == "Hi {{shopper.nmae}}!")
        #expect(r.flags == [TemplateFlag(kind: .unknownVariable, name: "shopper.nmae", offset: 3, text: "{{shopper.nmae}}")])
        #expect(!r.isReady)
    }

    @Test func missingAndEmptyValuesAreFlagged() {
        let r = ScriptTemplate.render("Order {{order.id}} for {{shop.name}}", values)
        #expect(r.text == "Order {{order.id}} for {{shop.name}}")
        #expect(r.flags.map(\.kind) == [.emptyValue, .missingValue])
        #expect(r.flags.map(\.name) == ["order.id", "shop.name"])
        // Only spaces is empty too.
        #expect(ScriptTemplate.render("{{shop.name}}", ["shop.name": "  "]).flags.map(\.kind) == [.emptyValue])
    }

    @Test func nestedBracesFlagTheOuterAndFillTheInner() {
        let r = ScriptTemplate.render("{{ {{shopper.name}} }}", values)
        #expect(r.text == "{{ Sam }}")
        #expect(r.flags.map(\.kind) == [.malformed])
        #expect(r.flags.first?.offset == 0)
    }

    @Test func anUnterminatedPlaceholderIsFlaggedAndTheRestKept() {
        let r = ScriptTemplate.render("Hi {{shopper.name}}, see {{product.title", values)
        #expect(r.text == "Hi Sam, see {{product.title")
        // Offsets are in the body as written.
        #expect(r.flags == [TemplateFlag(kind: .unterminated, offset: 25, text: "{{")])
    }

    @Test(arguments: ["{{}}", "{{ }}", "{{shopper name}}", "{{shopper}}", "{{.name}}", "{{shopper.}}", "{{{shopper.name}}}", "{{1x.y}}"])
    func malformedPlaceholdersAreFlagged(_ body: String) {
        let r = ScriptTemplate.render(body, values)
        #expect(r.flags.map(\.kind).contains(.malformed))
    }

    @Test func valuesAreNotExpandedAgain() {
        let r = ScriptTemplate.render("Hi {{shopper.name}}", ["shopper.name": "{{agent.name}}", "agent.name": "Ada"])
        #expect(r.text == "Hi {{agent.name}}")
        #expect(r.flags.isEmpty)
    }

    @Test func offsetsCountUTF16CodeUnits() {
        let r = ScriptTemplate.render("Grüße 👋 {{x.y}}", [:])
        // "Grüße " is 6 units, the emoji 2, the space 1.
        #expect(r.flags.first?.offset == 9)
    }

    @Test func moreThan64PlaceholdersAreRefusedAndFlagged() {
        let body = String(repeating: "{{shopper.name}} ", count: 65)
        #expect(ScriptTemplate(body).placeholderCount == 65)
        #expect(throws: AssistError(.tooLarge, "")) {
            try Script(id: "s", shortCode: "many", title: "Many", body: body).validate()
        }
        let r = ScriptTemplate(body).render(values)
        #expect(r.flags.map(\.kind) == [.tooManyPlaceholders])
        #expect(r.text.hasSuffix("Sam {{shopper.name}} "))
        let ok = String(repeating: "{{shopper.name}} ", count: 64)
        #expect(throws: Never.self) { try Script(id: "s", shortCode: "ok", title: "OK", body: ok).validate() }
    }

    @Test func variableNamesAreListedOnce() {
        #expect(ScriptTemplate("{{a.b}} {{shopper.name}} {{a.b}}").variableNames == ["a.b", "shopper.name"])
        #expect(ScriptVariable.names.contains("order.id"))
        #expect(ScriptVariable.names.contains("shopper.email"))
    }

    @Test func scriptValidation() {
        func invalid(_ s: Script) { #expect(throws: AssistError(.invalidArgument, "")) { try s.validate() } }
        invalid(Script(id: "a", shortCode: "Hi", title: "t", body: "b"))
        invalid(Script(id: "a", shortCode: String(repeating: "a", count: 33), title: "t", body: "b"))
        invalid(Script(id: "a", shortCode: "hi", title: "", body: "b"))
        invalid(Script(id: "a", shortCode: "hi", title: String(repeating: "t", count: 121), body: "b"))
        invalid(Script(id: "a", shortCode: "hi", title: "t", body: String(repeating: "b", count: 4_001)))
        invalid(Script(id: "a b", shortCode: "hi", title: "t", body: "b"))
        invalid(Script(id: "a", shortCode: "hi", title: "t", body: "b", attachment: .productCard(sku: "")))
        #expect(throws: Never.self) {
            try Script(id: "a", shortCode: "hi_there-2", title: "t", body: "b", attachment: .coupon(code: "WELCOME10", description: "10 %")).validate()
        }
    }
}
