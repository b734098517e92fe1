import Desk
import Foundation
import ShowroomTestSupport

/// A large FAQ for timing and hostile-input tests: `count` entries in English and German over a
/// vocabulary of real shop words plus made-up ones (so posting lists have a realistic spread:
/// a few words in many entries, most in few), with the sample FAQ's field lengths (a 6–12 word
/// question, a 25–60 word answer, 3–8 keywords).
enum SyntheticFAQ {
    static let shopWords = """
        sofa chair table bed wardrobe lamp shelf desk rug mirror cushion blanket curtain mattress dresser
        jacket coat dress shirt jeans sweater skirt shoes boots scarf hat belt bag socks trousers
        delivery shipping return refund payment voucher size colour fabric leather assembly warranty order
        account password store showroom discount sample care stain damage exchange invoice cost price
        Lieferung Versand Rücksendung Erstattung Zahlung Gutschein Größe Farbe Stoff Leder Aufbau Garantie
        Bestellung Konto Passwort Laden Rabatt Muster Pflege Fleck Schaden Umtausch Rechnung Kosten Preis
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    static func entries(_ count: Int, seed: UInt64 = 42) -> [FAQEntry] {
        var random = SeededRandom(seed: seed)
        // 20,000 made-up words; drawn with a skew towards the first ones (a Zipf-like spread).
        let syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "be", "so", "fi", "da", "gu", "pe", "vo", "ri", "ha", "zu"]
        var madeUp: [String] = []
        for i in 0..<20_000 {
            var w = ""
            var n = i
            repeat {
                w += syllables[n % syllables.count]
                n /= syllables.count
            } while n > 0
            madeUp.append(w + "x")
        }
        func word(_ random: inout SeededRandom) -> String {
            if Int.random(in: 0..<3, using: &random) == 0 { return shopWords.randomElement(using: &random)! }
            let u = Double.random(in: 0..<1, using: &random)
            return madeUp[min(madeUp.count - 1, Int(pow(u, 3) * Double(madeUp.count)))]
        }
        func sentence(_ words: ClosedRange<Int>, _ random: inout SeededRandom) -> String {
            (0..<Int.random(in: words, using: &random)).map { _ in word(&random) }.joined(separator: " ")
        }
        return (0..<count).map { i in
            FAQEntry(
                id: "e\(i)", question: sentence(6...12, &random) + "?", answer: sentence(25...60, &random) + ".",
                keywords: (0..<Int.random(in: 3...8, using: &random)).map { _ in word(&random) },
                department: i % 2 == 0 ? "sales" : "support", locale: i % 3 == 0 ? "de" : "en")
        }
    }

    /// Shopper messages for timing: realistic questions and hostile ones.
    static func queries(seed: UInt64 = 7) -> [(name: String, text: String)] {
        var random = SeededRandom(seed: seed)
        var out: [(String, String)] = [
            ("question", "How long does delivery of a sofa take to Austria?"),
            ("German question", "Wie lange dauert die Lieferung eines Sofas nach Österreich?"),
        ]
        // 4,000 characters of shop words: every term common, the most postings to walk.
        var common = ""
        while common.count < 4_000 { common += shopWords.randomElement(using: &random)! + " " }
        out.append(("4,000 chars of common words", String(common.prefix(4_000))))
        // 4,000 characters of one letter: one huge "word".
        out.append(("one 4,000-char word", String(repeating: "a", count: 4_000)))
        // 4,000 characters of random letters and spaces.
        let letters = Array("abcdefghijklmnopqrstuvwxyzäöüß     ")
        out.append(("4,000 random chars", String((0..<4_000).map { _ in letters.randomElement(using: &random)! })))
        // Short prefixes of everything: the most prefix expansions.
        out.append(("4,000 chars of 4-letter prefixes", String(String(repeating: "lief vers ruck zahl gross sofa ", count: 140).prefix(4_000))))
        out.append(("4,000 chars of emoji", String(repeating: "👍🏽", count: 1_000)))
        return out
    }
}
