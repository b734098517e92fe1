import Foundation

/// Turns a shopper's message or an FAQ entry's text into the terms the bot compares, the same
/// way for both, in these steps (docs/desk.md, "Bot"):
///
/// 1. **Bound.** Only the first ``maximumScalars`` Unicode scalars are read (more than one chat
///    message of 4,000 characters); a run of letters longer than ``maximumWordLength`` is cut.
/// 2. **Normalize.** Lowercase; fold diacritics (`ä` → `a`, `é` → `e`, `ç` → `c`) and a few
///    letters without a decomposition (`ß` → `ss`, `æ` → `ae`, `œ` → `oe`, `ø` → `o`, `ł` → `l`).
/// 3. **Split** into words: runs of letters and digits (any script); apostrophes inside a word
///    are dropped (`don't` → `dont`); words of one character are dropped.
/// 4. **Stop words** of the text's language are dropped (``StopWords``; a text of unknown
///    language drops the English and the German ones).
/// 5. **Transcribe** German umlauts typed without them: `ae`, `oe`, `ue` → `a`, `o`, `u`, in
///    every word of every language, so that "Rueckgabe" and "Rückgabe" both become `ruckgabe`
///    (English words change too — `blue` → `blu` — but the same way on both sides).
/// 6. **Stem** with one light suffix stripper for English and German (``stem(_:)``), the same for
///    every language so that an entry without a locale matches a shopper of any.
///
/// Matching a word *into* a compound ("Rücksendung" inside "Rücksendeetikett") is left to
/// ``FAQIndex``'s prefix matching.
public enum Tokenizer {
    /// Unicode scalars read from one text; the rest is ignored.
    public static let maximumScalars = 8_000
    /// A longer run of letters or digits is cut to this many characters (a word that long is
    /// noise, and a hostile one must not make a huge term).
    public static let maximumWordLength = 32

    /// The stemmed terms of `text`, in order, with stop words removed (steps 1–6).
    public static func terms(_ text: String, language: BotLanguage?) -> [String] {
        let stop = StopWords.bytes(for: language)
        var out: [String] = []
        for word in wordBytes(text) where !stop.contains(word) {
            var w = word
            // "moechte" is the stop word "möchte" typed without the umlaut.
            if transcribe(&w), stop.contains(w) { continue }
            stem(&w)
            out.append(String(decoding: w, as: UTF8.self))
        }
        return out
    }

    /// The normalized words of `text` (steps 1–3 and 5), stop words kept and not stemmed: what
    /// intents are recognized from (``IntentRecognizer``).
    public static func plainWords(_ text: String) -> [String] {
        wordBytes(text).map { word in
            var w = word
            transcribe(&w)
            return String(decoding: w, as: UTF8.self)
        }
    }

    /// Steps 1–3.
    static func words(_ text: String) -> [String] { wordBytes(text).map { String(decoding: $0, as: UTF8.self) } }

    /// Steps 1–3, each word as UTF-8 (the hot path of indexing and search: no `String` per letter).
    static func wordBytes(_ text: String) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        var length = 0
        func flush() {
            if length > 1 { words.append(current) }
            current.removeAll(keepingCapacity: true)
            length = 0
        }
        func append(_ s: Unicode.Scalar) {
            guard length < maximumWordLength else { return }
            if s.isASCII {
                current.append(UInt8(s.value))
            } else {
                current.append(contentsOf: String(s).utf8)
            }
            length += 1
        }
        for scalar in text.unicodeScalars.prefix(maximumScalars) {
            let v = scalar.value
            if v < 0x80 {
                switch v {
                case 0x41...0x5A:  // A–Z
                    if length < maximumWordLength {
                        current.append(UInt8(v + 0x20))
                        length += 1
                    }
                case 0x61...0x7A, 0x30...0x39:
                    if length < maximumWordLength {
                        current.append(UInt8(v))
                        length += 1
                    }
                case 0x27: continue  // an apostrophe inside a word is dropped: don't → dont
                default: flush()
                }
            } else if v == 0x2019 || v == 0x2018 {
                continue  // typographic apostrophes, as above
            } else if (0x300...0x36F).contains(v) {
                continue  // a combining mark (text that came decomposed): folded away
            } else if let folded = Self.folding[v] {
                for b in folded where length < maximumWordLength {
                    current.append(b)
                    length += 1
                }
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                // Another script: lowercased, otherwise kept.
                if scalar.properties.changesWhenLowercased {
                    for s in scalar.properties.lowercaseMapping.unicodeScalars { append(s) }
                } else {
                    append(scalar)
                }
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    /// Step 5: `ae`, `oe`, `ue` → `a`, `o`, `u`.
    static func transcribe(_ word: String) -> String {
        var w = Array(word.utf8)
        transcribe(&w)
        return String(decoding: w, as: UTF8.self)
    }

    /// Step 5 in place; whether anything changed.
    @discardableResult
    static func transcribe(_ w: inout [UInt8]) -> Bool {
        let e = UInt8(ascii: "e")
        guard w.count > 1, w.contains(e) else { return false }
        var out = 0
        for i in w.indices {
            let byte = w[i]
            if byte == e, out > 0 {
                let last = w[out - 1]
                if last == UInt8(ascii: "a") || last == UInt8(ascii: "o") || last == UInt8(ascii: "u") { continue }
            }
            w[out] = byte
            out += 1
        }
        let changed = out < w.count
        w.removeLast(w.count - out)
        return changed
    }

    /// Step 6: strips at most one suffix, the first of this list that leaves at least three
    /// characters, then undoubles a final double consonant other than `ss`:
    ///
    /// | suffix | becomes | for |
    /// |---|---|---|
    /// | `ungen`, `ung` | — | Lieferung(en) → liefer |
    /// | `ies`, `ied` | — | deliveries → deliver, carried → carr → car |
    /// | `ing`, `ed` | — | shipping, shipped → ship |
    /// | `ern`, `eln` | `er`, `el` | liefern → liefer, wechseln → wechsel |
    /// | `en`, `es`, `e` | — | Rückgaben, Rückgabe → ruckgab; sizes, size → siz |
    /// | `s` (not after `s`, `u`, `i`) | — | returns → return (status, address kept) |
    /// | `y` | — | delivery → deliver (so it meets delivered → deliver) |
    ///
    /// Light on purpose: it conflates few unrelated words, and the partial matching of
    /// ``FAQIndex`` catches some of what it leaves apart ("liefert" → `liefer`, "Rotweinfleck" →
    /// `fleck`).
    public static func stem(_ word: String) -> String {
        var w = Array(word.utf8)
        stem(&w)
        return String(decoding: w, as: UTF8.self)
    }

    private static let stemRules: [(suffix: [UInt8], replacement: [UInt8])] = [
        ("ungen", ""), ("ung", ""), ("ies", ""), ("ied", ""), ("ing", ""), ("ern", "er"), ("eln", "el"), ("ed", ""),
        ("en", ""), ("es", ""), ("e", ""),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    static func stem(_ w: inout [UInt8]) {
        guard w.count > 3 else { return }
        func ends(_ s: [UInt8]) -> Bool { w.count - s.count >= 3 && w.suffix(s.count).elementsEqual(s) }
        var stripped = false
        for rule in stemRules where ends(rule.suffix) {
            w.removeLast(rule.suffix.count)
            w.append(contentsOf: rule.replacement)
            stripped = true
            break
        }
        if !stripped, let last = w.last, w.count >= 4 {
            let before = w[w.count - 2]
            if last == UInt8(ascii: "s"), before != UInt8(ascii: "s"), before != UInt8(ascii: "u"), before != UInt8(ascii: "i") {
                w.removeLast()
            } else if last == UInt8(ascii: "y") {
                w.removeLast()
            }
        }
        if w.count > 3, let last = w.last, last == w[w.count - 2], last != UInt8(ascii: "s"),
            !Self.vowels.contains(last), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(last)
        {
            w.removeLast()
        }
    }

    private static let vowels: Set<UInt8> = Set("aeiouy".utf8)

    /// Lowercase Latin letters with diacritics (U+00C0–U+024F) to their base letters, from
    /// Unicode's canonical decomposition, plus the letters that have none; as UTF-8.
    private static let folding: [UInt32: [UInt8]] = {
        var table: [UInt32: [UInt8]] = [:]
        for v in UInt32(0xC0)...0x24F {
            guard let scalar = Unicode.Scalar(v), scalar.properties.isAlphabetic else { continue }
            let lower = scalar.properties.lowercaseMapping
            let base = lower.decomposedStringWithCanonicalMapping.unicodeScalars.filter { !(0x300...0x36F).contains($0.value) }
            let folded = String(String.UnicodeScalarView(base))
            if folded.unicodeScalars.allSatisfy(\.isASCII) { table[v] = Array(folded.utf8) }
        }
        let special: [Character: String] = [
            "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
            "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ħ": "h", "Ħ": "h",
        ]
        for (c, s) in special { if let scalar = c.unicodeScalars.first { table[scalar.value] = Array(s.utf8) } }
        return table
    }()
}
