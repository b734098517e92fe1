import Desk
import Testing

@Suite struct TokenizerTests {
    @Test func lowercasesFoldsDiacriticsAndTranscribesUmlauts() {
        #expect(Tokenizer.plainWords("Größe RÜCKGABE Rueckgabe Straße Crème brûlée Œuvre") == [
            "grosse", "ruckgabe", "ruckgabe", "strasse", "creme", "brulee", "ouvre",
        ])
        // Umlauts, typed or transcribed, and ß, meet.
        #expect(Tokenizer.plainWords("Größe") == Tokenizer.plainWords("Groesse"))
        #expect(Tokenizer.plainWords("Rückgabe") == ["ruckgabe"])
        #expect(Tokenizer.plainWords("Rueckgabe") == ["ruckgabe"])
        #expect(Tokenizer.plainWords("STRASSE Straße") == ["strasse", "strasse"])
        #expect(Tokenizer.plainWords("Café naïve Señor") == ["cafe", "naive", "senor"])
        // Decomposed input (a + combining diaeresis) folds the same as composed.
        #expect(Tokenizer.plainWords("Gro\u{0308}sse") == Tokenizer.plainWords("Grösse"))
    }

    @Test func splitsOnAnythingButLettersAndDigitsAndDropsApostrophesAndSingleLetters() {
        #expect(Tokenizer.plainWords("don't—doesn’t; T-Shirt, 30 days! a I") == ["dont", "dosnt", "shirt", "30", "days"])
        #expect(Tokenizer.plainWords("Привет мир") == ["привет", "мир"])
    }

    @Test func dropsTheStopWordsOfTheLanguage() {
        #expect(Tokenizer.terms("Hi, how do I return my shoes, please?", language: .english) == ["return", "sho"])
        #expect(Tokenizer.terms("Hallo, wie kann ich bitte meine Schuhe zurückschicken?", language: .german) == [
            "schuh", "zuruckschick",
        ])
        // "hat" is a German stop word but an English noun.
        #expect(Tokenizer.terms("Der Hut hat Löcher", language: .german) == ["hut", "locher"])
        #expect(Tokenizer.terms("the hat has holes", language: .english) == ["hat", "hol"])
        // Unknown language: both lists.
        #expect(Tokenizer.terms("the hat hat holes", language: nil) == ["hol"])
        // A stop word typed without its umlaut is still one.
        #expect(Tokenizer.terms("ich moechte", language: .german) == [])
    }

    @Test(arguments: [
        ("returns", "return"), ("returned", "return"), ("returning", "return"), ("shipping", "ship"), ("shipped", "ship"),
        ("delivery", "deliver"), ("deliveries", "deliver"), ("delivered", "deliver"), ("sizes", "siz"), ("size", "siz"),
        ("status", "status"), ("address", "address"), ("order", "order"), ("orders", "order"),
        ("lieferung", "liefer"), ("lieferungen", "liefer"), ("liefern", "liefer"), ("ruckgabe", "ruckgab"),
        ("ruckgaben", "ruckgab"), ("grossen", "gross"), ("betten", "bet"), ("bett", "bet"), ("tisch", "tisch"),
        ("red", "red"), ("need", "need"),
    ])
    func stemsEnglishAndGermanEndings(word: String, stem: String) {
        #expect(Tokenizer.stem(word) == stem)
    }

    @Test func boundsHostileInput() {
        // One 10,000-letter word becomes one word of 32.
        let words = Tokenizer.plainWords(String(repeating: "a", count: 10_000))
        #expect(words == [String(repeating: "a", count: Tokenizer.maximumWordLength)])
        // Only the first 8,000 scalars are read.
        let many = String(repeating: "ab ", count: 10_000)
        #expect(Tokenizer.plainWords(many).count == (Tokenizer.maximumScalars + 2) / 3)
        #expect(Tokenizer.terms(String(repeating: "👍🏽", count: 2_000), language: .english).isEmpty)
    }
}
