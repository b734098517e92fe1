/// Where the catalog and the shoppers' events survive a restart. Every call is synchronous and
/// atomic (one transaction): a failed import leaves the stored catalog as it was.
/// ``SQLiteCatalogStore`` is the embedded implementation.
///
/// At start the server loads ``products()`` into a ``Catalog`` and ``events()`` into a
/// ``ShopperEventLog`` (``ShopperEventLog/init(restoring:retentionPerShopper:coPurchases:)``), and
/// replays the events' popularity with ``Catalog/recordActivity(_:)``.
public protocol CatalogStore: Sendable {
    /// Replaces the whole stored catalog (a full import).
    func replaceCatalog(_ products: [Product]) throws(AssistError)
    /// Adds or replaces products by SKU.
    func upsert(_ products: [Product]) throws(AssistError)
    /// Sets stock by SKU; `not_found` (and nothing changed) if a SKU is not stored.
    func setStock(_ updates: [StockUpdate]) throws(AssistError)
    /// Every stored product, in catalog order.
    func products() throws(AssistError) -> [Product]
    /// Appends checked events and drops each affected shopper's events beyond the newest
    /// `retentionPerShopper` (an implementation may trim in chunks and keep up to a quarter more
    /// until its next trim; ``ShopperEventLog`` applies the exact limit when restoring).
    func append(_ events: [ShopperEvent], retentionPerShopper: Int) throws(AssistError)
    /// Every retained event, in time order (ties in arrival order).
    func events() throws(AssistError) -> [ShopperEvent]
    /// One shopper's retained events, in time order.
    func events(of shopper: String) throws(AssistError) -> [ShopperEvent]
}
