/// The one rule for a room's name, wherever a name arrives (a token's `room` claim, a WHIP/WHEP
/// path, a `/ws` `join`): 1–64 ASCII letters, digits, `-` or `_`.
///
/// ASCII only, because Swift compares strings by canonical equivalence while the chat store and
/// every other byte-keyed index do not: "café" precomposed and decomposed are one `String` but
/// two keys, and a room with two spellings splits its history (found by the hardening review).
/// An ASCII name has exactly one spelling.
public enum RoomName {
    /// The rule, as a reason to give with a refusal.
    public static let rule = "a room name is 1–64 ASCII letters, digits, - or _"

    /// Whether `name` follows the rule.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        return (1...64).contains(bytes.count)
            && bytes.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
            }
    }
}
