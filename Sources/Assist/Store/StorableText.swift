/// What every assist and catalog store refuses in a value it keeps as a column (an id, a short
/// code, a department, a consultation, an agent, a tracked item, a deduplication key, a SKU, a
/// product's or an event's text): the NUL character. PostgreSQL's text cannot hold it, and SQLite's
/// bindings cut a string at it (GRDB binds text with length -1), so `s1\u{0}x` would replace script
/// `s1` and a title `B\u{0}hidden` would be stored as `B`. Refusing it in every store keeps them
/// alike: a write with one is `invalid_argument` and writes nothing; a lookup or delete with one
/// finds nothing (no stored key can hold it). Records kept as JSON text escape it and are not
/// concerned. (Chat's equivalent is `StorableName`, with chat's error.)
///
/// Keys — the values stores index (ids, short codes, departments, consultations, deduplication
/// keys, SKUs, shoppers) — are also at most ``maximumKeyBytes`` of UTF-8: PostgreSQL's index
/// refuses a row over about 2,700 bytes, which a caller would see as `storage`, and characters are
/// no bound (one character can be thousands of bytes of combining marks).
public enum StorableText {
    /// The longest key a store keeps, in UTF-8 bytes.
    public static let maximumKeyBytes = 1_024

    /// Whether `text` can be kept as a column: it holds no NUL (nil, stored as NULL, can).
    public static func isStorable(_ text: String?) -> Bool { text?.utf8.contains(0) != true }

    /// Whether `key` can be kept as an indexed column: no NUL, at most ``maximumKeyBytes``.
    public static func isStorableKey(_ key: String?) -> Bool { isStorable(key) && (key?.utf8.count ?? 0) <= maximumKeyBytes }

    /// `invalid_argument` if any of `keys` holds a NUL or is longer than ``maximumKeyBytes``.
    public static func check(_ keys: String?...) throws(AssistError) { try check(keys) }

    /// `invalid_argument` if any of `keys` holds a NUL or is longer than ``maximumKeyBytes``.
    public static func check(_ keys: [String?]) throws(AssistError) {
        if !keys.allSatisfy(isStorableKey) {
            throw AssistError(.invalidArgument, "an id or key holds a NUL character or is over \(maximumKeyBytes) bytes")
        }
    }

    /// `invalid_argument` if the product's SKU, title, currency, image, category or an attribute's
    /// name or value holds a NUL. (Its videos are stored as JSON.) Written field by field, without
    /// an array: this runs for every product of an import.
    public static func check(_ product: Product) throws(AssistError) {
        let p = product
        guard
            isStorableKey(p.sku), isStorable(p.title), isStorable(p.currency), isStorable(p.image), isStorable(p.category),
            p.attributes.allSatisfy({ isStorable($0.key) && isStorable($0.value) })
        else { throw AssistError(.invalidArgument, "sku \(p.sku.debugDescription): a NUL character cannot be stored") }
    }

    /// `invalid_argument` if the event's shopper, SKU, order id or currency holds a NUL.
    public static func check(_ event: ShopperEvent) throws(AssistError) {
        let e = event
        guard isStorableKey(e.shopper), isStorableKey(e.sku), isStorableKey(e.orderId), isStorable(e.currency) else {
            throw AssistError(.invalidArgument, "shopper \(e.shopper.debugDescription): a NUL character cannot be stored")
        }
    }
}
