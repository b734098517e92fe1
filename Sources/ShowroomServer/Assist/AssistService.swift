import Assist
import Chat
import Desk
import Foundation
import Logging
import Signaling

/// Agent assist on a live server (docs/assist.md): the shop's catalog and shopper events, each
/// open consultation's profile and recommendations, the script library and guided flows, live
/// hints, conversion attribution and the shop's webhooks. The rules live in the `Assist` module
/// as I/O-free values; this actor holds them, persists through the stores, reads the rooms'
/// messages (``RecentMessages``) and the desk's transitions, and answers the routes
/// (``AssistRoutes``).
public actor AssistService {
    /// Its store calls block: it runs on a thread of its own, not Swift's cooperative pool.
    private nonisolated let executor = StoreThreadExecutor(name: "showroom-assist")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    deinit { executor.stop() }

    let desk: DeskService
    let hub: RoomHub
    let catalogStore: any CatalogStore
    let store: any AssistStore
    let clock: @Sendable () -> Date
    let logger: Logger

    private(set) var catalog: Catalog
    private(set) var events: ShopperEventLog
    private(set) var scripts: ScriptLibrary
    private(set) var flows: [String: GuidedFlow]
    private var progress: [String: FlowProgress] = [:]
    private(set) var hints: HintEngine
    private(set) var hintCounters = HintCounters()
    /// Hints last shown per consultation and agent, so a hint shown again while typing is counted once.
    private var shownHints: [String: [Hint]] = [:]
    private var recent = RecentMessages()
    /// SKUs an agent already sent as cards in a consultation (not recommended again).
    private var sent: [String: Set<String>] = [:]
    /// Tracked items sent and conversions counted, of the last ``ledgerDays`` (older ones stay in
    /// the store and in reports, not in memory).
    private var ledger: ConversionLedger
    static let ledgerDays = 90.0
    let webhooks: ShopWebhooks

    /// The shop's name for `{{shop.name}}`.
    let shopName: String

    /// The rooms' messages and the desk's transitions, until ``run()`` reads them.
    private let messages: AsyncStream<StoredMessage>
    private nonisolated let messageSink: AsyncStream<StoredMessage>.Continuation

    init(
        desk: DeskService, hub: RoomHub, catalogStore: any CatalogStore, store: any AssistStore, trackingKey: [UInt8],
        shopName: String = "Showroom", clock: @escaping @Sendable () -> Date = { Date() }, followsRooms: Bool = true, logger: Logger
    ) throws(AssistError) {
        self.desk = desk
        self.hub = hub
        self.catalogStore = catalogStore
        self.store = store
        self.clock = clock
        self.logger = logger
        self.shopName = shopName
        catalog = try Catalog(products: try catalogStore.products())
        let restored = try catalogStore.events()
        events = ShopperEventLog(restoring: restored)
        catalog.recordActivity(restored)
        scripts = try ScriptLibrary(try store.scripts())
        flows = Dictionary(try store.flows().map { ($0.department, $0) }, uniquingKeysWith: { _, b in b })
        hints = try HintEngine(rules: try store.hintRules())
        let since = clock().addingTimeInterval(-Self.ledgerDays * 86_400)
        ledger = ConversionLedger(key: try TrackingKey(trackingKey), events: try store.conversions(from: since, to: Date.distantFuture))
        webhooks = try ShopWebhooks(store: store, clock: clock, logger: logger)
        (messages, messageSink) = AsyncStream<StoredMessage>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        if followsRooms { hub.observe { [weak self] m in self?.deliver(m) } }
    }

    /// Hands assist a stored message of any room, in its room's order: it keeps only the rooms of
    /// open consultations (the desk's set) — a live stream's chat is not assist's business. With
    /// `followsRooms` the hub calls it; in a cluster the ``ConsultationFeed`` does.
    public nonisolated func deliver(_ m: StoredMessage) {
        guard desk.consultationRooms.contains(m.room) else { return }
        messageSink.yield(m)
    }

    /// Set by ``stop()``: in a cluster, this node's turn at the desk is over; nothing here writes
    /// or posts any more (``ensureRunning()``).
    private var stopped = false

    /// Ends assist's turn with the desk's (``DeskLeadership``).
    public func stop() { stopped = true }

    private func ensureRunning() throws(AssistError) {
        if stopped { throw AssistError(.unavailable, "this node's turn at the desk is over; try again") }
    }

    /// Reads the rooms and the desk's transitions (for hints and the shop's webhooks) and
    /// delivers webhooks, until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [messages] in
                for await m in messages { await self.observed(m) }
            }
            group.addTask { [desk] in
                for await t in desk.transitions { await self.transition(t) }
            }
            group.addTask { [webhooks] in await webhooks.run() }
            // The ledger keeps ``ledgerDays`` of conversions for its duplicate check: rebuilt hourly
            // from the store so that older ones leave memory (the store keeps them all).
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3_600))
                    try? await self.restoreLedger()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func observed(_ m: StoredMessage) async {
        recent.add(m)
        guard m.senderRole == "shopper" || m.senderRole == "agent", let c = await desk.openConsultation(inRoom: m.room) else { return }
        await webhooks.publish(
            "message.created",
            MessageEvent(consultation: c.id, room: m.room, seq: m.seq, sender: m.sender, role: m.senderRole, kind: m.content.kind, at: m.sentAt))
    }

    private func transition(_ t: DeskTransition) async {
        if t.consultation.status.isFinal {
            recent.remove(room: t.consultation.room)
            progress[t.consultation.id] = nil
            sent[t.consultation.id] = nil
            shownHints = shownHints.filter { !$0.key.hasPrefix(t.consultation.id + "/") }
        }
        let event = t.event == "consultation.active" ? "consultation.assigned" : t.event
        await webhooks.publish(event, t)
    }

    // MARK: Catalog and shopper events (the shop)

    /// Replaces the whole catalog (`PUT`) or adds and updates products (`POST`) from a JSON or
    /// CSV body. Rows with errors are reported with their line and left out; the rest is stored
    /// and indexed. A body over the caps changes nothing.
    /// `parsed` is read off the actor (``AssistRoutes``: seconds for a large file); the index and
    /// the store write happen here.
    public func importCatalog(_ parsed: CatalogImport, replace: Bool, parseSeconds: Double) throws(AssistError) -> CatalogImportReport {
        try ensureRunning()
        let started = ContinuousClock.now
        var next = catalog
        if replace { try next.replace(with: parsed.products) } else { try next.upsert(parsed.products) }
        if replace { try catalogStore.replaceCatalog(parsed.products) } else { try catalogStore.upsert(parsed.products) }
        catalog = next
        let elapsed = ContinuousClock.now - started
        logger.info("assist: catalog imported", metadata: ["products": "\(parsed.products.count)", "issues": "\(parsed.issues.count)"])
        return CatalogImportReport(
            imported: parsed.products.count, total: catalog.count, issues: parsed.issues, ignoredColumns: parsed.ignoredColumns,
            seconds: parseSeconds + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    public func setStock(_ updates: [StockUpdate]) throws(AssistError) {
        try ensureRunning()
        var next = catalog
        try next.setStock(updates)
        try catalogStore.setStock(updates)
        catalog = next
    }

    public func product(sku: String) throws(AssistError) -> Product {
        guard let p = catalog.product(sku: sku) else { throw AssistError(.notFound, "no product \(sku)") }
        return p
    }

    public func products(category: String?, limit: Int) -> [Product] {
        catalog.mostPopular(limit: min(max(1, limit), 200), category: category, inStockOnly: false)
    }

    /// Records a batch of shopper events (all checked first: one unknown SKU refuses the batch).
    public func record(_ batch: [ShopperEvent]) throws(AssistError) -> Int {
        try ensureRunning()
        // Checked, stored, then applied in place: the log is large and never copied.
        let accepted = try ShopperEventLog.check(batch, catalog: catalog)
        try catalogStore.append(accepted, retentionPerShopper: events.retention)
        events.append(accepted)
        catalog.recordActivity(accepted)
        return accepted.count
    }

    // MARK: The open consultation (agents)

    /// The consultation as `agent` may see it (theirs, or any for a supervisor).
    private func consultation(_ id: String, agent: String) async throws(AssistError) -> ConsultationView {
        do {
            return try await desk.consultation(id, viewer: .agent(agent))
        } catch {
            throw AssistError(.notFound, "no consultation \(id)")
        }
    }

    /// An open consultation the agent holds now: what sending, hints and the flow need (a closed
    /// one keeps its assignee, and a card sent into its room later would credit the wrong agent
    /// and consultation — hardening review).
    private func held(_ id: String, agent: String) async throws(AssistError) -> ConsultationView {
        let c = try await consultation(id, agent: agent)
        guard c.status.holdsAnAgent else { throw AssistError(.conflict, "consultation \(id) is \(c.status.rawValue)") }
        return c
    }

    /// Who the shopper is: the shop's profile (views, cart, orders, value, tags) and their
    /// consultations before this one.
    public func shopper(consultation id: String, agent: String) async throws(AssistError) -> ShopperPanel {
        let c = try await consultation(id, agent: agent)
        let profile = ShopperProfile(shopper: c.shopper, events: events.events(of: c.shopper), catalog: catalog, now: clock())
        let past = await desk.history(ofShopper: c.shopper, limit: 6).filter { $0.id != id }.prefix(5)
        var tags = profile.tags
        if !past.isEmpty { tags.append("returning to the desk") }
        return ShopperPanel(
            shopper: c.shopper, name: c.shopperName, profile: profile, tags: tags, lifetimeValue: profile.formattedLifetimeValue,
            pastConsultations: Array(past), product: c.context.sku.flatMap { catalog.product(sku: $0) })
    }

    /// The ranked in-stock products for the consultation (docs/assist.md, "Recommendations").
    public func recommendations(consultation id: String, agent: String, limit: Int) async throws(AssistError) -> [RecommendationView] {
        let c = try await consultation(id, agent: agent)
        let recommender = Recommender(catalog: catalog, coPurchases: events.coPurchases)
        let mentioned = recent.messages(room: c.room).flatMap { catalog.mentions(in: $0.text) }
        let context = RecommendationContext(
            events: events.events(of: c.shopper), productSKU: c.context.sku, mentionedSKUs: mentioned,
            category: c.context.sku.flatMap { catalog.product(sku: $0)?.category }, exclude: sent[id] ?? [], now: clock())
        return recommender.recommend(for: context, limit: min(max(1, limit), 20)).map(RecommendationView.init)
    }

    /// The variables of a consultation's scripts (``ScriptVariable``), from what is known.
    private func variables(_ c: ConsultationView, agent: String, product sku: String?) async -> [String: String] {
        var v: [String: String] = [
            ScriptVariable.shopperName.rawValue: c.shopperName, ScriptVariable.consultationID.rawValue: c.id,
            ScriptVariable.shopName.rawValue: shopName, ScriptVariable.departmentName.rawValue: c.department,
        ]
        if let first = c.shopperName.split(separator: " ").first { v[ScriptVariable.shopperFirstName.rawValue] = String(first) }
        if let name = await desk.agentName(agent) { v[ScriptVariable.agentName.rawValue] = name }
        if let p = (sku ?? c.context.sku).flatMap({ catalog.product(sku: $0) }) {
            v[ScriptVariable.productTitle.rawValue] = p.title
            v[ScriptVariable.productPrice.rawValue] = Currency.format(p.priceMinor, p.currency)
            v[ScriptVariable.productSKU.rawValue] = p.sku
        }
        if let order = ShopperProfile(shopper: c.shopper, events: events.events(of: c.shopper), catalog: catalog, now: clock()).orders.first?.id {
            v[ScriptVariable.orderID.rawValue] = order
        }
        return v
    }

    /// Scripts for the `/` picker: the consultation's department's and the shop-wide ones.
    public func searchScripts(_ query: String, consultation id: String?, agent: String) async throws(AssistError) -> [Script] {
        var department: String? = nil
        if let id { department = try await consultation(id, agent: agent).department }
        return scripts.search(query, department: department, limit: 20).map(\.script)
    }

    /// A script filled in for a consultation, with what is still missing flagged; nothing is sent.
    public func render(shortCode: String, consultation id: String, agent: String, product sku: String?) async throws(AssistError) -> RenderedReply {
        let c = try await consultation(id, agent: agent)
        guard let script = scripts.script(shortCode: shortCode) else { throw AssistError(.notFound, "no script /\(shortCode)") }
        let rendered = ScriptTemplate.render(script.body, await variables(c, agent: agent, product: sku))
        return RenderedReply(script: script, text: rendered.text, flags: rendered.flags)
    }

    // MARK: Guided flows

    /// The consultation's flow and its current step (started at the first step when first asked).
    public func flow(consultation id: String, agent: String) async throws(AssistError) -> FlowView? {
        try ensureRunning()
        let c = try await held(id, agent: agent)
        guard let flow = flows[c.department] else { return nil }
        if progress[id] == nil, let stored = try store.progress(consultation: id) { progress[id] = stored }
        let p = progress[id].map { $0.reconciled(with: flow, now: clock()) } ?? FlowProgress(consultation: id, flow: flow, now: clock())
        if progress[id] != p {
            progress[id] = p
            try store.saveProgress(p)
        }
        return FlowView(flow: flow, progress: p)
    }

    /// `advance`, `back`, or a step by id.
    public func moveFlow(consultation id: String, agent: String, to step: String?, back: Bool) async throws(AssistError) -> FlowView {
        try ensureRunning()
        guard let current = try await flow(consultation: id, agent: agent), var p = progress[id] else {
            throw AssistError(.notFound, "no guided flow for this consultation's department")
        }
        if let step { try p.jump(toStep: step, now: clock()) } else if back { p.back(now: clock()) } else { p.advance(now: clock()) }
        progress[id] = p
        try store.saveProgress(p)
        return FlowView(flow: current.flow, progress: p)
    }

    // MARK: Hints

    /// The hints for the agent's draft (or, without one, for the conversation as it stands),
    /// counted once each per agent while they stay shown.
    public func hints(consultation id: String, agent: String, draft: String?) async throws(AssistError) -> [Hint] {
        let c = try await held(id, agent: agent)
        let messages = recent.messages(room: c.room)
        var mentioned: [MentionedProduct] = []
        for sku in (messages.map(\.text) + [draft ?? ""]).flatMap({ catalog.mentions(in: $0) }) where !mentioned.contains(where: { $0.sku == sku }) {
            if let p = catalog.product(sku: sku) { mentioned.append(MentionedProduct(sku: sku, title: p.title, stock: p.stock)) }
        }
        let found = hints.evaluate(HintContext(draft: draft, messages: messages, now: clock(), mentionedProducts: mentioned, department: c.department))
        let key = id + "/" + agent
        hintCounters.recordShown(found, previous: shownHints[key] ?? [], agent: agent)
        shownHints[key] = found
        return found
    }

    // MARK: Sending (product cards, coupons, clips) with tracking

    /// Sends a product as a card into the consultation's room, as the agent, its link carrying a
    /// tracking token (``ConversionDesk``).
    public func sendProduct(_ sku: String, consultation id: String, agent: String, linkBase: String) async throws(AssistError) -> StoredMessage {
        try ensureRunning()
        let c = try await held(id, agent: agent)
        guard c.assignee == agent else { throw AssistError(.conflict, "consultation \(id) is not held by \(agent)") }
        let p = try product(sku: sku)
        let (send, token) = try tracking(.productCard(sku: sku), consultation: c, agent: agent)
        let link = "\(linkBase)/shop?sku=\(Self.percent(sku))&showroom_ref=\(token)"
        let content = ChatContent.product(
            sku: sku, title: String(p.title.prefix(512)), price: String(Currency.format(p.priceMinor, p.currency).prefix { $0 != " " }), currency: p.currency,
            imageURL: p.image, link: link)
        let m = try await post(content, room: c.room, agent: agent)
        try recordSend(send)
        sent[id, default: []].insert(sku)
        return m
    }

    /// Sends a coupon (a script's attachment) into the room, tracked like a card: an order the
    /// shop reports with the coupon's token counts for the consultation.
    public func sendCoupon(code: String, description: String, consultation id: String, agent: String) async throws(AssistError) -> StoredMessage {
        try ensureRunning()
        let c = try await held(id, agent: agent)
        guard c.assignee == agent else { throw AssistError(.conflict, "consultation \(id) is not held by \(agent)") }
        let discount = description.prefix(200).firstMatch(of: /[0-9]{1,3}%|[0-9]{1,9}(\.[0-9]{1,2})? [A-Z]{3}/).map { String($0.output.0) } ?? "10%"
        let expires = CouponExpiry(clock().addingTimeInterval(14 * 86_400))
        let (send, _) = try tracking(.coupon(code: code), consultation: c, agent: agent)
        let m = try await post(.coupon(code: code, discount: discount, expires: expires), room: c.room, agent: agent)
        try recordSend(send)
        return m
    }

    /// The tracking token of an item about to be sent in a consultation; recorded (``recordSend``)
    /// only once the room took the message, so refused sends (rate, validation) count nothing.
    private func tracking(_ item: TrackedItem, consultation c: ConsultationView, agent: String) throws(AssistError) -> (TrackingToken, String) {
        let send = TrackingToken(consultation: c.id, agent: agent, department: c.department, item: item, issued: clock())
        return (send, try send.signed(with: ledger.key))
    }

    /// Sends live in the store only (the report reads them there); memory holds none.
    private func recordSend(_ send: TrackingToken) throws(AssistError) {
        try store.recordSend(send)
    }

    // MARK: Conversions

    /// A conversion the shop reports (docs/assist.md, "Conversions": attribution rules).
    public func conversion(_ report: ConversionReport) async throws(AssistError) -> ConversionAnswer {
        try ensureRunning()
        // The ledger is large and never copied: recorded in place, then stored; a store failure
        // rebuilds it from the store, so a report the shop retries is not taken for a duplicate.
        var (outcome, event) = try ledger.record(report)
        if let e = event {
            do throws(AssistError) {
                // The store's unique key also knows duplicates older than the ledger's window.
                if try !store.recordConversion(e) {
                    outcome = .duplicate
                    event = nil
                }
            } catch {
                try restoreLedger()
                throw error
            }
        }
        if let event { await webhooks.publish("conversion.recorded", event) }
        return ConversionAnswer(outcome)
    }

    private func restoreLedger() throws(AssistError) {
        let since = clock().addingTimeInterval(-Self.ledgerDays * 86_400)
        ledger = ConversionLedger(key: ledger.key, events: try store.conversions(from: since, to: Date.distantFuture))
    }

    /// A shopper clicked a tracked card (the widget reports it with the shopper's token): counted
    /// once per shopper and card, and only for a card sent in a consultation of this shopper in
    /// this room — a token from another consultation is rejected.
    public func click(token: String, shopper: String, room: String) async throws(AssistError) -> ConversionAnswer {
        try ensureRunning()
        guard hub.maySend(shopper, now: .now) else { throw AssistError(.rateLimited, "reporting clicks too fast") }
        var claimed: String?
        if let t = try? TrackingToken.verify(token, key: ledger.key) {
            let view = try? await desk.consultation(t.consultation, viewer: .shopper(shopper))
            claimed = view.map { $0.room == room && $0.shopper == shopper } == true ? t.consultation : "another-shopper"
        }
        // One click per shopper and card: the report id is a digest of both (the token itself is up to 600 bytes).
        let key = (HMACSHA256.mac(key: Array(shopper.utf8), message: Array(token.utf8)).map { HMACSHA256.hex($0) } ?? String(token.suffix(64))).prefix(32)
        return try await conversion(
            ConversionReport(kind: .click, token: token, reportID: "click-" + key, at: clock(), consultation: claimed))
    }

    /// Conversions over `[from, to)` beside the desk's figures for the same consultations.
    public func conversionReport(from: Date, to: Date) async throws -> ConversionReportView {
        let summary = ConversionLedger.summarize(
            sends: try store.sends(from: from, to: to), events: try store.conversions(from: from, to: to), from: from, to: to)
        let desk = try await self.desk.report(from: from, to: to)
        return ConversionReportView(from: from, to: to, conversions: summary, desk: desk)
    }

    /// Sends one of a product's clips (its catalog media) into the room.
    public func sendVideo(_ sku: String, index: Int, consultation id: String, agent: String) async throws(AssistError) -> StoredMessage {
        try ensureRunning()
        let c = try await held(id, agent: agent)
        guard c.assignee == agent else { throw AssistError(.conflict, "consultation \(id) is not held by \(agent)") }
        let p = try product(sku: sku)
        guard p.videos.indices.contains(index) else { throw AssistError(.notFound, "product \(sku) has no clip \(index)") }
        let v = p.videos[index]
        return try await post(
            .video(url: v.url, poster: v.poster, duration: Double(v.durationSeconds), width: v.width ?? 640, height: v.height ?? 360), room: c.room, agent: agent)
    }

    private func post(_ content: ChatContent, room: String, agent: String) async throws(AssistError) -> StoredMessage {
        // The same per-identity send rate as the agent's /ws messages (docs/limits.md).
        guard hub.maySend(agent, now: .now) else { throw AssistError(.rateLimited, "sending too fast: wait a moment") }
        do {
            try content.validate()
            return try await hub.post(room: room, sender: agent, role: "agent", clientID: "assist-" + UUID().uuidString, content: content)
        } catch let e as ChatError {
            throw AssistError(.invalidArgument, e.description)
        } catch {
            throw AssistError(.conflict, "the room did not take the message: \(error)")
        }
    }

    static func percent(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "=", "?", "+"])) ?? s }

    // MARK: Admin: scripts, flows, hint rules

    public func scriptFile() -> ScriptFile { ScriptFile(scripts: scripts.scripts, flows: flows.values.sorted { $0.department < $1.department }) }

    /// Replaces the scripts and flows a file holds (a section left out is kept); all checked
    /// first, nothing changes on any error.
    public func importScripts(_ body: Data) throws(AssistError) -> ScriptFile {
        try ensureRunning()
        let file = try ScriptFile(json: body)
        let result = try ScriptImport.apply(file, library: scripts, flows: Array(flows.values), replacing: false)
        try store.replaceScripts(result.library.scripts, flows: result.flows)
        scripts = result.library
        flows = Dictionary(result.flows.map { ($0.department, $0) }, uniquingKeysWith: { _, b in b })
        return scriptFile()
    }

    public func save(script: Script) throws(AssistError) -> Script {
        try ensureRunning()
        var next = scripts
        try next.upsert(script)
        try store.saveScript(script)
        scripts = next
        return script
    }

    public func deleteScript(id: String) throws(AssistError) {
        try ensureRunning()
        var next = scripts
        _ = try next.remove(id: id)
        try store.deleteScript(id: id)
        scripts = next
    }

    public func hintRules() -> HintRuleFile { HintRuleFile(rules: hints.rules) }

    /// Replaces every hint rule (checked and compiled first; nothing changes on an error).
    public func replaceHintRules(_ body: Data) throws(AssistError) -> HintRuleFile {
        try ensureRunning()
        let file = try HintRuleFile(json: body)
        let engine = try HintEngine(rules: file.rules)
        try store.replaceHintRules(file.rules)
        hints = engine
        return hintRules()
    }

    public func hintCounts() -> HintCounters { hintCounters }
}
