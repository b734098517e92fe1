/// What the bot recognizes in one message before it searches the FAQ: simple intents, by word
/// and phrase lists in English and German matched on ``Tokenizer/plainWords(_:)`` (lowercased,
/// diacritics folded, umlauts transcribed — so "Öffnungszeiten", "Oeffnungszeiten" and
/// "offnungszeiten" are one word), plus the order id by ``OrderIDPattern``.
///
/// The lists are deliberately plain: a phrase is a run of whole words. ``BotTriage`` decides what
/// to do with what is found.
public struct IntentRecognizer: Sendable {
    /// What one message shows.
    public struct Intents: Sendable, Hashable {
        /// "agent", "human", "a real person", "Mitarbeiter", "mit einem Menschen sprechen", …
        public var asksForPerson = false
        /// An order id found by the pattern.
        public var orderID: String?
        /// Asks about an order's status without an id ("where is my order?", "Wo bleibt mein Paket?").
        public var asksOrderStatus = false
        /// "when are you open?", "Öffnungszeiten", …
        public var asksOpeningHours = false
        /// Only a greeting ("hi", "Guten Tag!").
        public var isGreeting = false
        /// Only thanks or an acknowledgement ("thanks!", "ok", "Danke, super").
        public var isThanks = false
        /// Says the last answer did not help: starts with "no"/"nein"/"wrong"/"falsch", or
        /// "that doesn't help", "not what I asked", "hilft mir nicht", …
        public var isNegativeFeedback = false
        /// Only a yes ("yes please", "ja gerne", "ok") — taken as accepting an offer.
        public var isAffirmative = false
        /// Has words beyond feedback, greeting, thanks and stop words: worth searching the FAQ.
        public var hasQuestion = false
    }

    public let orderIDPattern: OrderIDPattern

    public init(orderIDPattern: OrderIDPattern = .standard) {
        self.orderIDPattern = orderIDPattern
    }

    public func recognize(_ text: String) -> Intents {
        let words = Tokenizer.plainWords(text)
        var found = Intents()
        found.orderID = orderIDPattern.firstID(in: text)

        // "in person", "per person" are not asking for one.
        let personWords = Self.removing([["in", "person"], ["per", "person"], ["pro", "person"]], from: words)
        found.asksForPerson =
            personWords.contains(where: Self.personWords.contains) || Self.containsAny(Self.personPhrases, in: personWords)
        found.asksOrderStatus = Self.containsAny(Self.orderStatusPhrases, in: words)
        found.asksOpeningHours =
            words.contains(where: Self.openingHoursWords.contains) || Self.containsAny(Self.openingHoursPhrases, in: words)
            || (words.contains(where: Self.openWords.contains) && words.contains(where: Self.whenWords.contains))

        let negativeStart = words.first.map(Self.negativeStarts.contains) ?? false
        let negativePhrase = Self.containsAny(Self.negativePhrases, in: words)
        let meaningful = words.filter { !Self.filler.contains($0) }
        let greetingOnly = !meaningful.isEmpty && meaningful.allSatisfy(Self.greetingWords.contains)
        let thanksOnly =
            !meaningful.isEmpty && meaningful.allSatisfy { Self.thanksWords.contains($0) || Self.greetingWords.contains($0) }
            && meaningful.contains(where: Self.thanksWords.contains)
        // "no thanks" is thanks, not a complaint.
        let rest = meaningful.filter { !Self.negativeStarts.contains($0) }
        let declineWithThanks = negativeStart && !rest.isEmpty && rest.allSatisfy(Self.thanksWords.contains)
        found.isGreeting = greetingOnly
        found.isThanks = thanksOnly || declineWithThanks
        found.isNegativeFeedback = (negativeStart || negativePhrase) && !declineWithThanks
        found.isAffirmative =
            !meaningful.isEmpty && meaningful.allSatisfy { Self.affirmativeWords.contains($0) || Self.thanksWords.contains($0) }
            && meaningful.contains(where: Self.affirmativeWords.contains)
        // Stop words are listed untranscribed ("does" would not be found as "dos").
        found.hasQuestion = Tokenizer.words(text).contains { raw in
            let w = Tokenizer.transcribe(raw)
            return !StopWords.all.contains(raw) && !StopWords.all.contains(w) && !Self.greetingWords.contains(w)
                && !Self.thanksWords.contains(w) && !Self.negativeVocabulary.contains(w) && !Self.affirmativeWords.contains(w)
        }
        return found
    }

    // MARK: Phrase matching

    /// Phrases indexed by their first word, so a message is scanned once whatever the lists hold.
    struct Phrases: Sendable {
        let byFirstWord: [String: [[String]]]
        init(_ phrases: [[String]]) { byFirstWord = Dictionary(grouping: phrases, by: { $0[0] }) }
    }

    static func containsAny(_ phrases: Phrases, in words: [String]) -> Bool {
        for (i, word) in words.enumerated() {
            guard let candidates = phrases.byFirstWord[word] else { continue }
            for phrase in candidates where i + phrase.count <= words.count {
                if words[i..<(i + phrase.count)].elementsEqual(phrase) { return true }
            }
        }
        return false
    }

    static func removing(_ phrases: [[String]], from words: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        outer: while i < words.count {
            for phrase in phrases where i + phrase.count <= words.count && words[i..<(i + phrase.count)].elementsEqual(phrase) {
                i += phrase.count
                continue outer
            }
            out.append(words[i])
            i += 1
        }
        return out
    }

    /// Normalizes a list as messages are (so the lists can be written with umlauts).
    private static func list(_ text: String) -> Set<String> { Set(Tokenizer.plainWords(text)) }
    private static func phrases(_ lines: [String]) -> Phrases { Phrases(lines.map(Tokenizer.plainWords).filter { !$0.isEmpty }) }

    // MARK: Lists (English, then German)

    static let personWords = list(
        """
        agent agents human humans person persons representative rep operator staff advisor adviser consultant
        mitarbeiter mitarbeiterin mitarbeitern mitarbeitende mensch menschen berater beraterin kundenberater
        kundenberaterin ansprechpartner ansprechpartnerin sachbearbeiter servicemitarbeiter
        """)
    static let personPhrases = phrases([
        "talk to someone", "speak to someone", "speak with someone", "talk with someone", "chat with someone",
        "talk to a", "speak to a", "speak with a", "talk to an", "speak to an", "real person", "live chat", "live agent",
        "customer service", "customer support", "call me", "someone real", "connect me",
        "mit jemandem sprechen", "mit jemandem reden", "mit jemand sprechen", "jemanden sprechen", "echten menschen",
        "echte person", "kundendienst", "kundenservice", "rufen sie mich an", "ruft mich an", "persönlich sprechen",
    ])
    static let orderStatusPhrases = phrases([
        "where is my order", "where s my order", "wheres my order", "where is my package", "where is my parcel",
        "where is my delivery", "where is my stuff", "wheres my package", "wheres my parcel", "wheres my delivery", "order status", "status of my order", "track my order",
        "track my package", "track my parcel", "tracking number", "has my order shipped", "did my order ship",
        "my order hasn arrived", "my order hasnt arrived", "my order has not arrived", "my order didn arrive",
        "my order didnt arrive", "my order did not arrive", "my order is late", "when will my order",
        "when does my order", "still waiting for my order",
        "wo ist meine bestellung", "wo bleibt meine bestellung", "wo ist mein paket", "wo bleibt mein paket",
        "wo ist meine lieferung", "wo bleibt meine lieferung", "status meiner bestellung", "bestellstatus",
        "sendungsverfolgung", "sendungsnummer", "meine bestellung ist noch nicht", "bestellung nicht angekommen",
        "wann kommt meine bestellung", "wann kommt mein paket", "wann wird meine bestellung", "stand meiner bestellung",
        "warte auf meine bestellung", "trackingnummer",
    ])
    static let openingHoursWords = list(
        """
        öffnungszeiten offnungszeit geschäftszeiten servicezeiten sprechzeiten geöffnet
        """)
    static let openingHoursPhrases = phrases([
        "opening hours", "opening times", "business hours", "office hours", "service hours", "hours of operation",
        "are you open", "you open", "you close", "open today", "open tomorrow", "open on", "open now",
        "are you closed", "you closed", "your hours",
        "wann habt ihr offen", "wann haben sie offen", "habt ihr offen", "haben sie offen", "wann seid ihr erreichbar",
        "wann sind sie erreichbar", "wann erreiche ich", "bis wann", "ab wann",
    ])
    static let openWords = list("open opens opening close closes closing closed offen erreichbar")
    static let whenWords = list("when time today tomorrow tonight weekend sunday saturday wann heute wochenende sonntag samstag uhr")

    static let greetingWords = list(
        """
        hi hello hey hiya howdy yo morning evening afternoon good day greetings
        hallo servus moin moinmoin grüß grüss gruss gott guten tag morgen abend grüezi tach
        """)
    static let thanksWords = list(
        """
        thanks thank thx ty cheers great perfect awesome nice cool helpful brilliant excellent appreciated
        appreciate ok okay alright fine got it understood
        danke dankeschön dank vielen besten super prima toll perfekt klasse top hilfreich verstanden alles klar gut
        merci
        """)
    static let affirmativeWords = list(
        "yes yeah yep yup sure please ok okay alright definitely ja jawohl jep gerne gern bitte klar genau natürlich doch")
    // Not "ne": colloquial German for "eine" ("hab ne Frage").
    static let negativeStarts = list("no nope nah wrong incorrect nein nee nö falsch")
    static let negativePhrases = phrases([
        "doesnt help", "doesn t help", "does not help", "didnt help", "didn t help", "did not help", "not helpful",
        "unhelpful", "useless", "not what i asked", "not what i meant", "not my question", "that s not it",
        "thats not it", "not what i m looking for", "not what im looking for", "doesnt answer", "didnt answer",
        "does not answer", "did not answer", "that s wrong", "thats wrong", "no help",
        "hilft nicht", "hilft mir nicht", "nicht hilfreich", "hat nicht geholfen", "hat mir nicht geholfen",
        "bringt mir nichts", "bringt nichts", "nicht meine frage", "meine ich nicht", "meinte ich nicht",
        "das ist falsch", "beantwortet nicht", "beantwortet meine frage nicht", "keine hilfe", "nutzlos",
    ])
    /// Words of feedback phrases, not a question in themselves.
    static let negativeVocabulary = negativeStarts.union(
        list(
            """
            help helpful unhelpful useless answer answered meant asked wrong not that thats
            hilft geholfen hilfreich nutzlos bringt nichts beantwortet meinte meine hat mir das ist nicht keine
            """))
    /// Words that never decide greeting-only, thanks-only or yes-only.
    static let filler = list(
        """
        a the so very much you all there team for your that this it i is was be me to
        ihnen dir euch ihr sehr so das es ist war mir mich auch schön liebe lieber liebes
        """)
}
