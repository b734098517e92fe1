import Assist
import Foundation
import Logging
import Signaling

extension AssistService {
    /// Agent assist of a server: its catalog store (catalog, shopper events) and its assist store
    /// (scripts, flows, hint rules, conversions, webhooks), opened through `stores`;
    /// tracking tokens signed with a key derived from the server's secret (so they survive a
    /// restart and no second secret needs keeping). With `demo`, an empty catalog is filled with
    /// the demo's shop (``AssistDemo``). `followsRooms` as for ``AssistService/init``.
    static func open(
        stores: StoreLocation, secret: [UInt8], demo: Bool, desk: DeskService, hub: RoomHub, followsRooms: Bool = true,
        logger: Logger
    ) throws(ServerError) -> AssistService {
        do {
            let catalogStore = try stores.catalogStore()
            let store = try stores.assistStore()
            if demo, try catalogStore.products().isEmpty {
                try seedDemo(catalogStore: catalogStore, store: store, now: Date())
                logger.info("assist: the demo's shop is loaded (catalog, scripts, flows, hint rules, shopper events)")
            }
            guard let key = HMACSHA256.mac(key: secret, message: Array("showroom tracking tokens v1".utf8)) else {
                throw ServerError(.invalidConfiguration, "assist: the tracking key cannot be derived (OpenSSL's HMAC failed)")
            }
            return try AssistService(desk: desk, hub: hub, catalogStore: catalogStore, store: store, trackingKey: key, followsRooms: followsRooms, logger: logger)
        } catch let e as ServerError {
            throw e
        } catch {
            throw ServerError(.storage, "assist: \(error)")
        }
    }

    static func seedDemo(catalogStore: any CatalogStore, store: any AssistStore, now: Date) throws(AssistError) {
        let catalog = try CatalogImport(try AssistDemo.file("catalog.json"), format: .json)
        try catalogStore.replaceCatalog(catalog.products)
        let file = try ScriptFile(json: try AssistDemo.file("scripts.json"))
        let scripts = try ScriptImport.apply(file, library: ScriptLibrary(), flows: [], replacing: true)
        try store.replaceScripts(scripts.library.scripts, flows: scripts.flows)
        try store.replaceHintRules(try HintRuleFile(json: try AssistDemo.file("hints.json")).rules)
        let index = try Catalog(products: catalog.products)
        var log = ShopperEventLog()
        let events = try log.record(AssistDemo.events(now: now), catalog: index)
        try catalogStore.append(events, retentionPerShopper: log.retention)
    }
}
