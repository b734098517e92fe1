import Desk
import Testing

@Suite struct IntentRecognizerTests {
    let recognizer = IntentRecognizer()

    @Test(arguments: [
        "Can I talk to a human?", "agent please", "I want a real person", "speak to someone", "representative",
        "Connect me with customer service", "Ich möchte mit einem Mitarbeiter sprechen", "Mensch bitte!",
        "Kann ich mit jemandem sprechen?", "Bitte einen echten Menschen", "Kundenservice", "MITARBEITERIN",
    ])
    func asksForAPerson(_ text: String) {
        #expect(recognizer.recognize(text).asksForPerson)
    }

    @Test(arguments: [
        "Can I see the sofa in person?", "How much is delivery per person?", "How do I return a dress?",
        "Wie viel kostet der Versand pro Person?", "personal data", "humane working conditions",
    ])
    func doesNotMistakeOtherUsesForAPerson(_ text: String) {
        #expect(!recognizer.recognize(text).asksForPerson)
    }

    @Test(arguments: [
        ("Where is #12345?", "12345"), ("order 12345 hasn't arrived", "12345"), ("Order no. 998877 status", "998877"),
        ("my order number: 55555", "55555"), ("Bestellung 123456 ist nicht da", "123456"),
        ("Bestellnummer 4444", "4444"), ("Auftrag Nr. 20260001", "20260001"), ("ORDER#00042", "00042"),
    ])
    func findsOrderIDs(_ text: String, _ id: String) {
        #expect(recognizer.recognize(text).orderID == id)
    }

    @Test(arguments: [
        "I paid 12345 euros", "size 38", "#12", "order 123", "call 0301234567", "order 1234567890123456",
    ])
    func findsNoOrderIDWhereThereIsNone(_ text: String) {
        #expect(recognizer.recognize(text).orderID == nil)
    }

    @Test func aShopConfiguresItsOwnOrderIDs() throws {
        let custom = IntentRecognizer(orderIDPattern: try OrderIDPattern(#"\b(SR-\d{4}-\d{4})\b"#))
        #expect(custom.recognize("where is SR-2026-0042?").orderID == "SR-2026-0042")
        #expect(custom.recognize("where is #12345?").orderID == nil)
        #expect(throws: DeskError(.invalidArgument, "")) { try OrderIDPattern("(unclosed") }
        // A bare id after the bot asked for one.
        #expect(OrderIDPattern.standard.wholeID(in: " 12345 ") == "12345")
        #expect(OrderIDPattern.standard.wholeID(in: "#12345") == "12345")
        #expect(OrderIDPattern.standard.wholeID(in: "12345 please") == nil)
        #expect(try OrderIDPattern(#"SR-\d{4}-\d{4}"#).wholeID(in: "SR-2026-0042") == "SR-2026-0042")
    }

    @Test(arguments: [
        "where is my order?", "Where's my package", "I want to track my order", "order status",
        "Wo ist meine Bestellung?", "Wo bleibt mein Paket", "Sendungsverfolgung",
    ])
    func asksForAnOrdersStatus(_ text: String) {
        #expect(recognizer.recognize(text).asksOrderStatus)
    }

    @Test(arguments: [
        "What are your opening hours?", "when are you open", "Are you open on Sunday?", "what time do you close today",
        "Öffnungszeiten?", "Oeffnungszeiten", "Wann habt ihr offen?", "Bis wann seid ihr erreichbar?", "Habt ihr heute geöffnet?",
    ])
    func asksForOpeningHours(_ text: String) {
        #expect(recognizer.recognize(text).asksOpeningHours)
    }

    @Test(arguments: ["How do I open the wardrobe door?", "Is the invoice still open?", "Is shipping free?"])
    func doesNotMistakeOtherQuestionsForOpeningHours(_ text: String) {
        #expect(!recognizer.recognize(text).asksOpeningHours)
    }

    @Test func greetingsThanksAndYesAreShortMessagesOnly() {
        for text in ["Hi!", "hello there", "Good morning", "Hallo", "Guten Tag", "Moin moin", "Grüß Gott"] {
            let i = recognizer.recognize(text)
            #expect(i.isGreeting && !i.hasQuestion, "\(text)")
        }
        for text in ["Thanks!", "thank you so much", "ok", "Danke schön", "Vielen Dank, super!", "no thanks"] {
            let i = recognizer.recognize(text)
            #expect(i.isThanks && !i.hasQuestion && !i.isNegativeFeedback, "\(text)")
        }
        for text in ["yes", "Yes please", "ja gerne", "Ja, bitte"] { #expect(recognizer.recognize(text).isAffirmative, "\(text)") }
        let mixed = recognizer.recognize("Hi, how do I return a sofa?")
        #expect(!mixed.isGreeting && mixed.hasQuestion)
        #expect(!recognizer.recognize("thanks, and what about shipping?").isThanks)
    }

    @Test func noticesThatAnAnswerDidNotHelp() {
        for text in [
            "no", "Nope.", "that doesn't help", "not what I asked", "Nein", "Das hilft mir nicht", "falsch",
            "hat nicht geholfen", "That's wrong", "useless",
        ] {
            let i = recognizer.recognize(text)
            #expect(i.isNegativeFeedback && !i.hasQuestion, "\(text)")
        }
        let withQuestion = recognizer.recognize("No, I mean how do I return the sofa?")
        #expect(withQuestion.isNegativeFeedback && withQuestion.hasQuestion)
        #expect(!recognizer.recognize("How do I return the sofa?").isNegativeFeedback)
    }

    /// The constants built without their checks (no `try!` in the library) pass those checks.
    @Test func theBuiltInConstantsAreValid() throws {
        #expect(try OrderIDPattern(OrderIDPattern.standard.source) == OrderIDPattern.standard)
        let always = BusinessHours.always()
        #expect(try BusinessHours(timeZone: always.timeZone, week: always.week) == always)
        #expect(try BusinessHours.Interval(open: .midnight, close: .endOfDay) == .wholeDay)
    }
}
