/// Shopper questions for the sample FAQ (`SampleFAQ.json`), each labelled with the entry a
/// person would answer it with — or `nil` when no entry answers it and the bot should hand off.
/// Written as shoppers write (paraphrases, typos, no umlauts, run-on sentences), before the
/// threshold was chosen, and not edited to fit it. Used by `BotEvaluationTests` to measure
/// answer-vs-hand-off precision and recall (docs/desk.md, "Bot").
struct LabelledQuestion: Sendable, CustomStringConvertible {
    let text: String
    let locale: String
    let department: String
    /// The entry that answers it; `nil`: none does.
    let expected: String?

    var description: String { "[\(locale)/\(department)] \(text) → \(expected ?? "hand off")" }
}

let labelledQuestions: [LabelledQuestion] = [
    // MARK: English, answerable
    .init(text: "how long until my new bed arrives?", locale: "en", department: "sales", expected: "delivery-time-en"),
    .init(text: "What's the delivery time for a sofa?", locale: "en", department: "sales", expected: "delivery-time-en"),
    .init(text: "Do you deliver to Switzerland?", locale: "en", department: "sales", expected: "delivery-time-en"),
    .init(text: "is shipping free?", locale: "en", department: "sales", expected: "shipping-cost-en"),
    .init(text: "What is the delivery fee for a table", locale: "en", department: "sales", expected: "shipping-cost-en"),
    .init(text: "Can I pay with PayPal?", locale: "en", department: "sales", expected: "payment-en"),
    .init(text: "do you offer financing or monthly payments", locale: "en", department: "sales", expected: "payment-en"),
    .init(text: "Is there a size guide for the jeans?", locale: "en", department: "sales", expected: "sizes-en"),
    .init(text: "I'm usually an M, do your shirts run small?", locale: "en", department: "sales", expected: "sizes-en"),
    .init(text: "could you send me some fabric swatches for the sofa", locale: "en", department: "sales", expected: "fabric-samples-en"),
    .init(text: "How do I use my voucher code?", locale: "en", department: "sales", expected: "gift-cards-en"),
    .init(text: "I want to buy a gift card for my sister", locale: "en", department: "sales", expected: "gift-cards-en"),
    .init(text: "Where is your store in Hamburg?", locale: "en", department: "sales", expected: "showrooms-en"),
    .init(text: "can i try the sofas somewhere before buying", locale: "en", department: "sales", expected: "showrooms-en"),
    .init(text: "how do I send back a dress that doesn't fit", locale: "en", department: "support", expected: "returns-en"),
    .init(text: "What is your return policy?", locale: "en", department: "support", expected: "returns-en"),
    .init(text: "I returned my jacket two weeks ago and still haven't got my money back", locale: "en", department: "support", expected: "refunds-en"),
    .init(text: "the table top has a big scratch", locale: "en", department: "support", expected: "damaged-en"),
    .init(text: "My wardrobe came broken, one door is cracked", locale: "en", department: "support", expected: "damaged-en"),
    .init(text: "where can I find the assembly instructions for the wardrobe?", locale: "en", department: "support", expected: "assembly-en"),
    .init(text: "Can your team set up the bed for me?", locale: "en", department: "support", expected: "assembly-en"),
    .init(text: "I need to cancel my order please", locale: "en", department: "support", expected: "change-order-en"),
    .init(text: "I entered the wrong address, can I still change it?", locale: "en", department: "support", expected: "change-order-en"),
    .init(text: "How many years guarantee on the sofa frame?", locale: "en", department: "support", expected: "warranty-en"),
    .init(text: "how do i get a wine stain out of the sofa cover", locale: "en", department: "support", expected: "care-en"),
    .init(text: "can't log in, reset password?", locale: "en", department: "support", expected: "account-en"),

    // MARK: English, no entry answers (hand off)
    .init(text: "Do you have any jobs in your warehouse?", locale: "en", department: "sales", expected: nil),
    .init(text: "Is the Oslo sofa available in dark green velvet?", locale: "en", department: "sales", expected: nil),
    .init(text: "Can I get a discount if I buy three wardrobes for my hotel?", locale: "en", department: "sales", expected: nil),
    .init(text: "Are your cotton shirts organic and fair trade?", locale: "en", department: "sales", expected: nil),
    .init(text: "Do you buy back used furniture?", locale: "en", department: "sales", expected: nil),
    .init(text: "what's the weather like in Berlin tomorrow", locale: "en", department: "sales", expected: nil),
    .init(text: "The delivery driver was really rude to my mother and I want to complain", locale: "en", department: "support", expected: nil),
    .init(text: "I was charged twice on my credit card statement", locale: "en", department: "support", expected: nil),
    .init(text: "Can I get an invoice with my company's VAT number?", locale: "en", department: "support", expected: nil),
    .init(text: "I'd like to delete all my personal data (GDPR)", locale: "en", department: "support", expected: nil),

    // MARK: German, answerable
    .init(text: "Wie lange dauert es bis das Sofa da ist?", locale: "de", department: "sales", expected: "delivery-time-de"),
    .init(text: "liefert ihr auch nach Österreich", locale: "de", department: "sales", expected: "delivery-time-de"),
    .init(text: "Wann kommt mein Bett ungefähr an?", locale: "de", department: "sales", expected: "delivery-time-de"),
    .init(text: "Wie hoch sind die Versandkosten?", locale: "de", department: "sales", expected: "shipping-cost-de"),
    .init(text: "ist der versand kostenlos", locale: "de", department: "sales", expected: "shipping-cost-de"),
    .init(text: "Kann ich auf Rechnung bezahlen?", locale: "de", department: "sales", expected: "payment-de"),
    .init(text: "Geht auch Ratenzahlung?", locale: "de", department: "sales", expected: "payment-de"),
    .init(text: "Welche Groesse soll ich bei der Jeans nehmen?", locale: "de", department: "sales", expected: "sizes-de"),
    .init(text: "Fallen die Kleider eher klein aus?", locale: "de", department: "sales", expected: "sizes-de"),
    .init(text: "Kann ich Muster vom Stoff für das Sofa bekommen", locale: "de", department: "sales", expected: "fabric-samples-de"),
    .init(text: "Wie löse ich meinen Gutschein ein?", locale: "de", department: "sales", expected: "gift-cards-de"),
    .init(text: "Habt ihr eine Filiale in München?", locale: "de", department: "sales", expected: "showrooms-de"),
    .init(text: "Wo kann ich das Sofa probesitzen?", locale: "de", department: "sales", expected: "showrooms-de"),
    .init(text: "Wie funktioniert die Rücksendung?", locale: "de", department: "support", expected: "returns-de"),
    .init(text: "Ich möchte die Jacke umtauschen", locale: "de", department: "support", expected: "returns-de"),
    .init(text: "Wann wird mir der Betrag erstattet?", locale: "de", department: "support", expected: "refunds-de"),
    .init(text: "Der Stuhl ist kaputt angekommen", locale: "de", department: "support", expected: "damaged-de"),
    .init(text: "Beim Schrank fehlt ein Teil", locale: "de", department: "support", expected: "damaged-de"),
    .init(text: "Wo finde ich die Aufbauanleitung?", locale: "de", department: "support", expected: "assembly-de"),
    .init(text: "Könnt ihr den Kleiderschrank auch montieren?", locale: "de", department: "support", expected: "assembly-de"),
    .init(text: "Ich will meine Bestellung stornieren", locale: "de", department: "support", expected: "change-order-de"),
    .init(text: "Wie lange habe ich Garantie auf das Bettgestell?", locale: "de", department: "support", expected: "warranty-de"),
    .init(text: "Wie bekomme ich einen Rotweinfleck aus dem Bezug?", locale: "de", department: "support", expected: "care-de"),
    .init(text: "Passwort vergessen, was tun", locale: "de", department: "support", expected: "account-de"),

    // MARK: German, no entry answers (hand off)
    .init(text: "Sucht ihr noch Aushilfen im Lager?", locale: "de", department: "sales", expected: nil),
    .init(text: "Gibt es das Sofa Oslo auch in Dunkelgrün?", locale: "de", department: "sales", expected: nil),
    .init(text: "Bekomme ich Mengenrabatt für zwanzig Stühle?", locale: "de", department: "sales", expected: nil),
    .init(text: "Sind eure T-Shirts aus Biobaumwolle?", locale: "de", department: "sales", expected: nil),
    .init(text: "Kauft ihr gebrauchte Möbel an?", locale: "de", department: "sales", expected: nil),
    .init(text: "Der Fahrer war sehr unfreundlich, ich möchte mich beschweren", locale: "de", department: "support", expected: nil),
    .init(text: "Mir wurde der Betrag doppelt abgebucht", locale: "de", department: "support", expected: nil),
    .init(text: "Ich brauche eine Rechnung mit Umsatzsteuer-ID für meine Firma", locale: "de", department: "support", expected: nil),
    .init(text: "Bitte löscht alle meine Daten", locale: "de", department: "support", expected: nil),
    .init(text: "Wie wird das Wetter am Wochenende?", locale: "de", department: "support", expected: nil),
]

/// A second set, written after the threshold and the matching rules were first fixed (score ≥ 3.5,
/// coverage ≥ 0.1, runner-up < 0.9): on its first run it scored precision 0.69 (20/29) and
/// recall 0.83 (20/24). It is no longer untouched since: one of its misses ("when will my sofa be
/// delivered") led to stemming `-y`/`-ies` like `-ed` (delivery → deliver), and the coverage
/// (0.2) and runner-up (0.8) limits were then chosen on both sets together. Its hard negatives —
/// questions next to an entry's topic that the entry does not answer — are what lexical matching
/// gets wrong.
let heldOutQuestions: [LabelledQuestion] = [
    .init(text: "when will my sofa be delivered", locale: "en", department: "sales", expected: "delivery-time-en"),
    .init(text: "How much is postage for a t-shirt?", locale: "en", department: "sales", expected: "shipping-cost-en"),
    .init(text: "Do you take Apple Pay?", locale: "en", department: "sales", expected: "payment-en"),
    .init(text: "which size should I order for a 90cm chest", locale: "en", department: "sales", expected: "sizes-en"),
    .init(text: "Can I redeem two discount codes?", locale: "en", department: "sales", expected: "gift-cards-en"),
    .init(text: "do you have a showroom in munich", locale: "en", department: "sales", expected: "showrooms-en"),
    .init(text: "the coat doesn't suit me, how can I exchange it", locale: "en", department: "support", expected: "returns-en"),
    .init(text: "how long does the refund take", locale: "en", department: "support", expected: "refunds-en"),
    .init(text: "a screw is missing from my bed", locale: "en", department: "support", expected: "damaged-en"),
    .init(text: "I lost the manual for my desk", locale: "en", department: "support", expected: "assembly-en"),
    .init(text: "is there a guarantee on the bed", locale: "en", department: "support", expected: "warranty-en"),
    .init(text: "can I put the sofa cover in the washing machine", locale: "en", department: "support", expected: "care-en"),
    .init(text: "Wann wird mein Tisch geliefert?", locale: "de", department: "sales", expected: "delivery-time-de"),
    .init(text: "Was kostet die Lieferung eines Schranks?", locale: "de", department: "sales", expected: "shipping-cost-de"),
    .init(text: "Kann ich mit Kreditkarte zahlen?", locale: "de", department: "sales", expected: "payment-de"),
    .init(text: "Gibt es eine Größentabelle für Hosen?", locale: "de", department: "sales", expected: "sizes-de"),
    .init(text: "Ich habe einen Geschenkgutschein bekommen, wie benutze ich ihn?", locale: "de", department: "sales", expected: "gift-cards-de"),
    .init(text: "Wo ist euer Showroom in Berlin?", locale: "de", department: "sales", expected: "showrooms-de"),
    .init(text: "Wie gebe ich ein Kleid zurück?", locale: "de", department: "support", expected: "returns-de"),
    .init(text: "Ich habe mein Geld noch nicht zurückbekommen", locale: "de", department: "support", expected: "refunds-de"),
    .init(text: "Das Sofa hat einen Fleck und einen Riss", locale: "de", department: "support", expected: "damaged-de"),
    .init(text: "Kann ich die Bestellung noch ändern?", locale: "de", department: "support", expected: "change-order-de"),
    .init(text: "Wie wasche ich den Pullover?", locale: "de", department: "support", expected: "care-de"),
    .init(text: "Ich komme nicht in mein Kundenkonto", locale: "de", department: "support", expected: "account-de"),
    .init(text: "Do you sell mattresses for cribs?", locale: "en", department: "sales", expected: nil),
    .init(text: "Can I reserve the sofa in the showroom for tomorrow?", locale: "en", department: "sales", expected: nil),
    .init(text: "I want to write a review about my chair", locale: "en", department: "support", expected: nil),
    .init(text: "Are you hiring designers?", locale: "en", department: "sales", expected: nil),
    .init(text: "Can you price match a cheaper offer from another shop?", locale: "en", department: "sales", expected: nil),
    .init(text: "My payment was declined, why?", locale: "en", department: "sales", expected: nil),
    .init(text: "Verkauft ihr auch Matratzen für Kinderbetten?", locale: "de", department: "sales", expected: nil),
    .init(text: "Kann ich das Sofa im Showroom für morgen reservieren?", locale: "de", department: "sales", expected: nil),
    .init(text: "Macht ihr auch Preisanpassung wenn es woanders billiger ist?", locale: "de", department: "sales", expected: nil),
    .init(text: "Meine Zahlung wurde abgelehnt, warum?", locale: "de", department: "sales", expected: nil),
    .init(text: "Habt ihr ein Partnerprogramm für Innenarchitekten?", locale: "de", department: "sales", expected: nil),
    .init(text: "Ich möchte eine Bewertung schreiben", locale: "de", department: "support", expected: nil),
]
