/// A script body read as text and `{{namespace.name}}` placeholders.
///
/// - A placeholder is `{{`, optional spaces, a name, optional spaces, `}}`. A name is two or more
///   parts joined by `.`, each a letter followed by letters, digits or `_` (`shopper.name`,
///   `product.price`); names are case-sensitive and at most 64 characters.
/// - Anything else between `{{` and `}}` is left as written and flagged
///   ``TemplateFlag/Kind/malformed``; so is a `{{` that another `{{` follows before a `}}` (the
///   inner one may still be a placeholder: `{{ {{shopper.name}} }}` flags the outer `{{` and fills
///   the inner). A `{{` with no `}}` after it is left as written and flagged
///   ``TemplateFlag/Kind/unterminated``.
/// - Filling is one pass: a value that itself contains `{{…}}` is inserted as it is, never
///   expanded (a shopper's name cannot pull in another variable).
/// - At most ``maximumPlaceholders`` placeholders are filled; ``Script/validate()`` refuses a body
///   with more, and rendering one anyway leaves the rest as written with one
///   ``TemplateFlag/Kind/tooManyPlaceholders`` flag.
///
/// Parsing is linear in the body's length and the body is at most ``Script/maximumBodyLength``
/// characters, so rendering on every keystroke is cheap.
public struct ScriptTemplate: Sendable, Hashable {
    public static let maximumPlaceholders = 64
    static let maximumNameLength = 64

    enum Segment: Sendable, Hashable {
        case text(String)
        /// A well-formed placeholder: its name, the text as written and its UTF-16 offset.
        case placeholder(name: String, raw: String, offset: Int)
    }

    let segments: [Segment]
    /// Problems found while parsing (malformed, unterminated, too many).
    let parseFlags: [TemplateFlag]

    /// Parses `body`.
    public init(_ body: String) {
        let b = Array(body.utf8)
        var segments: [Segment] = []
        var flags: [TemplateFlag] = []
        var literalStart = 0
        var pos = 0
        var count = 0
        var saidTooMany = false
        let open: UInt8 = 0x7B, close: UInt8 = 0x7D
        func text(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
        func utf16Offset(_ p: Int) -> Int { text(0..<p).utf16.count }

        while pos + 1 < b.count {
            guard b[pos] == open, b[pos + 1] == open else {
                pos += 1
                continue
            }
            var j = pos + 2
            var end = -1
            var nested = false
            while j + 1 < b.count {
                if b[j] == close, b[j + 1] == close {
                    end = j
                    break
                }
                if b[j] == open, b[j + 1] == open {
                    nested = true
                    break
                }
                j += 1
            }
            if end < 0, !nested {
                flags.append(TemplateFlag(kind: .unterminated, offset: utf16Offset(pos), text: "{{"))
                break
            }
            if nested {
                flags.append(TemplateFlag(kind: .malformed, offset: utf16Offset(pos), text: text(pos..<j)))
                pos = j
                continue
            }
            let raw = text(pos..<(end + 2))
            let name = text((pos + 2)..<end).trimmingSpaces()
            guard Self.isValidName(name) else {
                flags.append(TemplateFlag(kind: .malformed, offset: utf16Offset(pos), text: raw))
                pos = end + 2
                continue
            }
            if count >= Self.maximumPlaceholders {
                if !saidTooMany {
                    flags.append(TemplateFlag(kind: .tooManyPlaceholders, name: name, offset: utf16Offset(pos), text: raw))
                    saidTooMany = true
                }
                pos = end + 2
                continue
            }
            count += 1
            if literalStart < pos { segments.append(.text(text(literalStart..<pos))) }
            segments.append(.placeholder(name: name, raw: raw, offset: utf16Offset(pos)))
            pos = end + 2
            literalStart = pos
        }
        if literalStart < b.count { segments.append(.text(text(literalStart..<b.count))) }
        self.segments = segments
        self.parseFlags = flags
        self.placeholderCount = count + (saidTooMany ? 1 : 0)
    }

    /// The number of well-formed placeholders (counting one past the limit when there are more).
    public let placeholderCount: Int

    /// The names the body uses, in order, each once.
    public var variableNames: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for case .placeholder(let name, _, _) in segments where seen.insert(name).inserted { out.append(name) }
        return out
    }

    /// Fills the placeholders from `values` (keyed by variable name, `"shopper.name"`), and flags
    /// unknown variables, missing and empty values and the parse problems, in body order.
    public func render(_ values: [String: String]) -> RenderedScript {
        var out = ""
        var flags = parseFlags
        for segment in segments {
            switch segment {
            case .text(let t): out += t
            case .placeholder(let name, let raw, let offset):
                guard ScriptVariable.names.contains(name) else {
                    flags.append(TemplateFlag(kind: .unknownVariable, name: name, offset: offset, text: raw))
                    out += raw
                    continue
                }
                guard let value = values[name] else {
                    flags.append(TemplateFlag(kind: .missingValue, name: name, offset: offset, text: raw))
                    out += raw
                    continue
                }
                guard !value.trimmingSpaces().isEmpty else {
                    flags.append(TemplateFlag(kind: .emptyValue, name: name, offset: offset, text: raw))
                    out += raw
                    continue
                }
                out += value
            }
        }
        flags.sort { $0.offset < $1.offset }
        return RenderedScript(text: out, flags: flags)
    }

    /// Parses and fills in one call.
    public static func render(_ body: String, _ values: [String: String]) -> RenderedScript {
        ScriptTemplate(body).render(values)
    }

    static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumNameLength else { return false }
        var parts = 0
        for part in name.utf8.split(separator: 0x2E, omittingEmptySubsequences: false) {
            guard let first = part.first, isLetter(first) else { return false }
            guard part.allSatisfy({ isLetter($0) || (0x30...0x39).contains($0) || $0 == 0x5F }) else { return false }
            parts += 1
        }
        return parts >= 2
    }

    private static func isLetter(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x41...0x5A).contains(c) }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines (Foundation-free).
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
