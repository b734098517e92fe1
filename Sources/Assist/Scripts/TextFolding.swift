import Foundation

/// The one normalization that script search and hint rules compare text with: lowercase,
/// diacritics folded (`é` → `e`, `ü` → `u`) and a few letters without a decomposition (`ß` →
/// `ss`, `æ` → `ae`, `œ` → `oe`, `ø` → `o`, `ł` → `l`), so "Größe", "GROSSE" and "grösse" meet.
enum TextFolding {
    /// `text` folded, every scalar kept in order (spaces and punctuation too).
    static func fold(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars { append(s, to: &out) }
        return String(out)
    }

    /// The words of `text`, folded: runs of letters and digits; an apostrophe inside a word is
    /// dropped (`don't` → `dont`). At most `maximumScalars` scalars are read.
    static func words(_ text: String, maximumScalars: Int = .max) -> [Substring] {
        let folded = fold(String(text.unicodeScalars.prefix(maximumScalars)))
        var words: [Substring] = []
        var current = String.UnicodeScalarView()
        for s in folded.unicodeScalars {
            if isWordScalar(s) {
                current.append(s)
            } else if (s == "'" || s == "\u{2019}"), !current.isEmpty {
                continue
            } else if !current.isEmpty {
                words.append(Substring(String(current)))
                current.removeAll()
            }
        }
        if !current.isEmpty { words.append(Substring(String(current))) }
        return words
    }

    /// A letter or a digit (an ASCII fast path before the Unicode properties).
    @inline(__always)
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 { return (0x61...0x7A).contains(v) || (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) }
        return s.properties.isAlphabetic || s.properties.numericType != nil
    }

    static func append(_ s: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        let v = s.value
        if v < 0x80 {
            out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(UInt8(v + 0x20)) : s)
            return
        }
        switch v {
        case 0xDF, 0x1E9E: out.append(contentsOf: "ss".unicodeScalars)
        case 0xC6, 0xE6: out.append(contentsOf: "ae".unicodeScalars)
        case 0x152, 0x153: out.append(contentsOf: "oe".unicodeScalars)
        case 0xD8, 0xF8: out.append("o")
        case 0x141, 0x142: out.append("l")
        default:
            // Canonical decomposition, then the combining marks (U+0300–U+036F) dropped.
            for d in String(s).lowercased().decomposedStringWithCanonicalMapping.unicodeScalars
            where !(0x300...0x36F).contains(d.value) {
                out.append(d)
            }
        }
    }
}
