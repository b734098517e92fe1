import Chat
import Desk
import Foundation
import Logging
import Signaling
import Synchronization

/// The live desk: where a consultation goes from the widget's first message to its end, in one
/// place. It owns the ``Router`` (queue and assignment rules), a ``BotTriage`` per consultation the
/// bot still handles, a ``WaitEstimator`` per department, and carries out what they decide: every
/// status move is stored (``DeskStore``, one event each) before anyone is told; shoppers hear it
/// as `system` messages in their room, agents on their workspace stream (``DeskNotice``).
///
/// It reads the rooms through ``RoomHub/observe(_:)`` (in the order they are stored, one room at a
/// time through one queue) and writes into them with ``RoomHub/post(room:sender:role:clientID:content:)``.
/// A restart rebuilds the router from the store: no consultation, queue place or assignment is lost.
public actor DeskService {
    /// Its store calls block: it runs on a thread of its own, not Swift's cooperative pool.
    private nonisolated let executor = StoreThreadExecutor(name: "showroom-desk")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    deinit { executor.stop() }

    /// The token room of desk-wide tokens: an agent's workspace, an admin's API.
    public static let room = "desk"
    /// The bot's identity and role in a room.
    public static let botIdentity = "showroom-bot"
    public static let botRole = "bot"
    /// A VIP's priority in the queue (a token with `tier: "vip"`); standard shoppers have 0.
    public static let vipPriority = 10
    /// Open consultations the desk takes at once; past it a new one is refused (`at capacity`).
    public static let maximumOpenConsultations = 100_000
    /// Workspace streams one agent may hold at once (tabs).
    public static let maximumStreamsPerAgent = 4
    /// Notices queued for one stream before the oldest are dropped (a workspace that does not read).
    public static let streamBuffer = 256

    private let store: any DeskStore
    private let hub: RoomHub
    private let auth: TokenAuthority
    private let orders: any OrderStatusLookup
    private let clock: @Sendable () -> Date
    private let logger: Logger
    /// Agents' room tokens last this long (a working day).
    let roomTokenSeconds: TimeInterval = 12 * 3_600

    private var router: Router
    private var faq: FAQ
    private var index: FAQIndex
    private var bots: [String: BotTriage] = [:]
    private var estimators: [String: WaitEstimator] = [:]
    /// Open consultations by id, and the open consultation of each room.
    private var open: [String: Consultation] = [:]
    /// Room → its open consultation. Every change is mirrored into ``consultationRooms``.
    private var openInRoom: [String: String] = [:] {
        didSet { if openInRoom.count != oldValue.count || openInRoom.keys != oldValue.keys { consultationRooms.set(openInRoom.keys) } }
    }
    /// The rooms holding an open consultation, readable without the actor: the rooms' observer
    /// forwards only their messages, so a busy live-stream chat never reaches (or crowds out)
    /// the desk and agent assist (hardening: one room's traffic must not starve another's).
    public nonisolated let consultationRooms = ConsultationRooms()
    static let maximumUnreadMessages = 10_000
    /// Queue notices to agents and place lines to shoppers go out at most once per
    /// ``queueNoticeInterval`` per department; changes in between are announced together at its end
    /// (at 2,000 consultations and 200 agents, a notice per change was 1.4 GB of JSON in 6 minutes).
    static let queueNoticeInterval: Duration = .milliseconds(250)
    private var lastQueueNotice: [String: ContinuousClock.Instant] = [:]
    private var pendingQueueNotices: Set<String> = []
    /// The position each waiting shopper was last told, so that a change is told once.
    private var toldPosition: [String: Int] = [:]
    private var streams: [String: [UUID: AsyncStream<DeskNotice>.Continuation]] = [:]
    /// When each agent's last workspace stream closed (cleared when one opens or they go offline).
    private var lastStreamClosed: [String: Date] = [:]
    /// A consultation still with the bot whose shopper said nothing for this long is abandoned.
    public static let botIdleSeconds: TimeInterval = 30 * 60
    /// When each consultation the bot still has last heard from its shopper.
    private var lastShopperActivity: [String: Date] = [:]
    /// Seconds a closed workspace keeps its agent online (a reload, a network change). Its close
    /// is seen at once when the browser ends the request, else at the next keep-alive write (15 s).
    public static let offlineGrace: TimeInterval = 20
    /// Events to external bots (``ExternalBot``).
    let webhooks: WebhookSender
    /// Counters for /metrics: status moves by target status, and bot outcomes.
    private(set) var moves: [ConsultationStatus: Int] = [:]
    private(set) var botReplies = 0
    private(set) var handOffs: [HandOffReason: Int] = [:]

    /// The desk of a server: its store `desk.sqlite` in `dataDirectory`, the sample FAQ; with
    /// `demo`, the demo's agents `anna` (sales and support, supervisor) and `ben` (sales) in a
    /// store that has none.
    static func open(
        stores: StoreLocation, demo: Bool = false, hub: RoomHub, auth: TokenAuthority, followsRooms: Bool = true, logger: Logger
    ) throws(ServerError) -> DeskService {
        do {
            let store = try stores.deskStore()
            if demo, try store.agents().isEmpty {
                if try store.departments().isEmpty {
                    for d in [Department(id: "sales", name: "Sales"), Department(id: "support", name: "Support")] { try store.save(d) }
                }
                try store.save(AgentProfile(id: "anna", name: "Anna", departments: ["sales", "support"], capacity: 3, supervisor: true))
                try store.save(AgentProfile(id: "ben", name: "Ben", departments: ["sales"], capacity: 2))
            }
            return try DeskService(store: store, hub: hub, auth: auth, faq: try FAQ.sample(), followsRooms: followsRooms, logger: logger)
        } catch {
            throw ServerError(.storage, "desk: \(error.description)")
        }
    }

    /// The rooms' messages, in the order they are stored, until ``run(tickEvery:)`` reads them.
    private let messages: AsyncStream<StoredMessage>
    private nonisolated let messageSink: AsyncStream<StoredMessage>.Continuation

    /// Every consultation's transitions (created, each status move, rated), in order, for one
    /// listener (agent assist: the shop's webhooks, conversion attribution). Bounded: past
    /// ``maximumUnreadTransitions`` unread, the oldest are dropped — a stalled listener costs
    /// memory only up to that bound and never slows the desk.
    public nonisolated let transitions: AsyncStream<DeskTransition>
    private let transitionSink: AsyncStream<DeskTransition>.Continuation
    static let maximumUnreadTransitions = 10_000

    /// Loads departments, agents and open consultations from the store (seeding the departments
    /// `sales` and `support` into an empty one) and starts listening to the rooms; ``run(tickEvery:)``
    /// then does the work. Create it before the server takes requests. With `followsRooms` it
    /// reads this node's rooms (``RoomHub/observe(_:)``); without, what ``deliver(_:)`` is given.
    public init(
        store: any DeskStore, hub: RoomHub, auth: TokenAuthority, faq: FAQ, orders: any OrderStatusLookup = NoOrderLookup(),
        router configuration: Router.Configuration = Router.Configuration(), clock: @escaping @Sendable () -> Date = { Date() },
        followsRooms: Bool = true, logger: Logger
    ) throws(DeskError) {
        self.store = store
        self.hub = hub
        self.auth = auth
        self.faq = faq
        index = FAQIndex(entries: faq.entries)
        self.orders = orders
        self.clock = clock
        self.logger = logger
        webhooks = WebhookSender(logger: logger)
        var router = Router(configuration: configuration)
        let now = clock()
        var departments = try store.departments()
        if departments.isEmpty {
            departments = [Department(id: "sales", name: "Sales"), Department(id: "support", name: "Support")]
            for d in departments { try store.save(d) }
        }
        for d in departments { _ = try router.handle(.department(d), now: now) }
        for a in try store.agents() { _ = try router.handle(.agent(a), now: now) }
        var restored: [Consultation] = []
        var bots: [String: BotTriage] = [:]
        for c in try store.openConsultations() {
            var c = c
            // An offer made before the restart is void: the consultation waits again.
            if c.status == .offered { c = try store.move(c.id, to: .queued, assignee: nil, at: now, detail: "restart") }
            open[c.id] = c
            openInRoom[c.room] = c.id
            if c.status == .bot, router.departments[c.department]?.externalBot == nil {
                bots[c.id] = BotTriage(
                    index: index, locale: c.context.locale, department: c.department, tier: c.priority >= Self.vipPriority ? .vip : .standard,
                    hours: router.departments[c.department]?.hours)
            }
            restored.append(c)
        }
        router.restore(from: restored)
        self.router = router
        self.bots = bots
        (messages, messageSink) = AsyncStream<StoredMessage>.makeStream(bufferingPolicy: .bufferingNewest(Self.maximumUnreadMessages))
        (transitions, transitionSink) = AsyncStream<DeskTransition>.makeStream(bufferingPolicy: .bufferingNewest(Self.maximumUnreadTransitions))
        consultationRooms.set(restored.map(\.room))
        if followsRooms { hub.observe { [weak self] m in self?.deliver(m) } }
    }

    /// Hands the desk a stored message of any room (it keeps those of open consultations), in the
    /// order its room stored them. With `followsRooms` the hub calls it; in a cluster the
    /// ``ConsultationFeed`` does, for every node's appends.
    public nonisolated func deliver(_ m: StoredMessage) {
        guard consultationRooms.contains(m.room) else { return }
        if case .dropped = messageSink.yield(m) { consultationRooms.dropped.add(1, ordering: .relaxed) }
    }

    /// Reads the rooms and ticks once per `interval` (offers lapse, reply targets escalate) until
    /// the task is cancelled; then ends every workspace stream.
    public func run(tickEvery interval: Duration = .seconds(1)) async {
        logger.info("desk running", metadata: ["open": .stringConvertible(open.count)])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [messages] in
                for await m in messages { await self.observed(m) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    await self.tick()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.queueNoticeInterval / 2)
                    await self.announcePendingQueues()
                }
            }
            await group.next()
            group.cancelAll()
        }
        stop()
    }

    /// Ends this desk's turn at once (``run(tickEvery:)`` calls it when it ends; in a cluster the
    /// turn's end calls it before it cancels the run): every workspace stream ends, and from now
    /// on nothing writes, posts or opens a stream (``ensureRunning()``).
    public func stop() {
        stopped = true
        for (_, s) in streams { for c in s.values { c.finish() } }
        streams = [:]
    }

    /// Set when ``run(tickEvery:)`` ends: in a cluster, this node's turn at the desk is over and
    /// another node's desk may already have loaded the store, so nothing here writes to it or
    /// opens a stream any more (``ensureRunning()``).
    private var stopped = false

    /// `unavailable` once the desk has stopped: a request that reached it just before its turn
    /// ended is refused, not carried out behind the next node's back.
    private func ensureRunning() throws(DeskError) {
        if stopped { throw DeskError(.unavailable, "this node's turn at the desk is over; try again") }
    }

    // MARK: Shoppers

    /// A shopper opens a consultation in `room` (the room their token is for). One open
    /// consultation per room: asked again, the open one is returned.
    public func open(
        shopper: String, room: String, name: String, department: String?, context: ConsultationContext, priority: Int = 0
    ) async throws(DeskError) -> ConsultationView {
        if let id = openInRoom[room], let c = open[id] {
            guard c.shopper == shopper else { throw DeskError(.notAllowed, "room \(room) holds another shopper's consultation") }
            return view(c)
        }
        guard open.count < Self.maximumOpenConsultations else { throw DeskError(.conflict, "the desk holds all the consultations it takes") }
        let departmentID = department ?? router.departments.keys.sorted().first ?? ""
        guard router.departments[departmentID] != nil else { throw DeskError(.unknownDepartment, "no department \(departmentID)") }
        try Self.check(name, "name", max: 64)
        try Self.check(context.sku ?? "", "context.sku", max: 64)
        try Self.check(context.pageURL ?? "", "context.pageURL", max: 2_048)
        try Self.check(context.locale ?? "", "context.locale", max: 35)
        let c = Consultation(
            id: "c-" + UUID().uuidString.lowercased(), room: room, shopper: shopper, shopperName: name.isEmpty ? "Shopper" : name,
            context: context, department: departmentID, priority: priority, created: clock())
        try ensureRunning()
        try store.create(c)
        open[c.id] = c
        openInRoom[room] = c.id
        transitionSink.yield(DeskTransition(event: "consultation.created", consultation: ConsultationView(c), at: c.times.created))
        if let external = router.departments[departmentID]?.externalBot {
            await webhooks.send("consultation.created", view(c), to: external)
        } else {
            bots[c.id] = makeBot(for: c)
        }
        return view(c)
    }

    static func check(_ value: String, _ field: String, max: Int) throws(DeskError) {
        guard value.utf8.count <= max else { throw DeskError(.invalidArgument, "\(field) is longer than \(max) bytes") }
    }

    /// Who asks for a consultation: its shopper, an agent (its assignee or a supervisor), or an
    /// admin. Identities of shoppers and agents are separate namespaces (the shop mints the one,
    /// staff have the other): an agent named like a shopper is not that shopper.
    public enum Viewer: Sendable {
        case shopper(String)
        case agent(String)
        case admin
    }

    /// A consultation as `viewer` may see it. `notFound` for anyone else, as for no consultation.
    public func consultation(_ id: String, viewer: Viewer) throws(DeskError) -> ConsultationView {
        let stored = try open[id] == nil ? store.consultation(id) : nil
        guard let c = open[id] ?? stored else { throw DeskError(.notFound, "no consultation \(id)") }
        let allowed: Bool =
            switch viewer {
            case .shopper(let s): c.shopper == s
            case .agent(let a): c.assignee == a || isSupervisor(a)
            case .admin: true
            }
        guard allowed else { throw DeskError(.notFound, "no consultation \(id)") }
        return view(c)
    }

    /// The open consultation in `room`, if any (agent assist follows only these).
    public func openConsultation(inRoom room: String) -> ConsultationView? {
        openInRoom[room].flatMap { open[$0] }.map { view($0) }
    }

    /// A shopper's consultations, newest first, at most `limit` (the workspace's "before").
    public func history(ofShopper shopper: String, limit: Int) -> [ConsultationView] {
        ((try? store.consultations(shopper: shopper, limit: limit)) ?? []).map { view($0) }
    }

    /// An agent's display name.
    public func agentName(_ id: String) -> String? { router.profile(id)?.name }

    /// The shopper leaves a message instead of waiting (offered past the maximum wait, or any
    /// time while queued): the consultation is `missed`, for an agent to pick up later.
    public func leaveMessage(_ id: String, shopper: String) async throws(DeskError) -> ConsultationView {
        try ensureRunning()
        guard let c = open[id], c.shopper == shopper else { throw DeskError(.notFound, "no consultation \(id)") }
        guard c.status == .queued || c.status == .offered else { throw DeskError(.conflict, "consultation \(id) is \(c.status.rawValue)") }
        let actions = try router.handle(.resolved(consultation: id, by: nil), now: clock())
        let moved = try move(id, to: .missed, assignee: nil, detail: "left a message")
        await tell(room: moved.room, "Thanks — we have your message. An agent will reply here as soon as one is free.")
        await carryOut(actions + [.queueChanged(department: moved.department)])
        return view(moved)
    }

    /// The shopper ends the consultation (closes the widget's chat): one the bot or the queue
    /// still had is `abandoned`, one with an agent `resolved` (the agent is told).
    public func close(_ id: String, shopper: String) async throws(DeskError) -> ConsultationView {
        try ensureRunning()
        guard let c = open[id], c.shopper == shopper else { throw DeskError(.notFound, "no open consultation \(id)") }
        let actions = c.status == .bot || c.status == .missed ? [] : try router.handle(.left(consultation: id), now: clock())
        let moved: Consultation
        if c.status.holdsAnAgent, let agent = c.assignee {
            try finish(id, status: .resolved, by: agent)
            moved = try store.consultation(id) ?? c
        } else if c.status == .missed {
            moved = try move(id, to: .resolved, assignee: nil, detail: "closed by the shopper")
        } else {
            moved = try move(id, to: .abandoned, assignee: nil, detail: "closed by the shopper")
        }
        await carryOut(actions)
        return view(moved)
    }

    /// The shopper rates a resolved consultation, 1–5, once.
    public func rate(_ id: String, shopper: String, score: Int) throws(DeskError) {
        guard let c = try store.consultation(id), c.shopper == shopper else { throw DeskError(.notFound, "no consultation \(id)") }
        guard (1...5).contains(score) else { throw DeskError(.invalidArgument, "a rating is 1 to 5") }
        let now = clock()
        try ensureRunning()
        try store.rate(id, score: score, at: now)
        transitionSink.yield(DeskTransition(event: "consultation.rated", consultation: ConsultationView(c), at: now, rating: score))
    }

    // MARK: External bots

    /// An external bot answers a consultation of a department it serves (still with the bot).
    public func botReply(_ id: String, bot identity: String, text: String) async throws(DeskError) {
        try ensureRunning()
        let c = try externallyHandled(id)
        guard !text.isEmpty, text.utf8.count <= 4_000 else { throw DeskError(.invalidArgument, "text is 1 to 4,000 bytes") }
        _ = try? await hub.post(room: c.room, sender: identity, role: Self.botRole, clientID: "bot-" + UUID().uuidString, content: .text(text))
        botReplies += 1
        if c.times.firstBotReply == nil {
            let now = clock()
            try ensureRunning()
            try store.recordFirstReply(id, byAgent: false, at: now)
            open[id]?.times.firstBotReply = now
        }
    }

    /// An external bot hands a consultation to the queue.
    public func botHandOff(_ id: String, reason: HandOffReason) async throws(DeskError) {
        try ensureRunning()
        _ = try externallyHandled(id)
        await botDecided(.handOff(reason, closedHours: nil), consultation: id)
    }

    private func externallyHandled(_ id: String) throws(DeskError) -> Consultation {
        guard let c = open[id] else { throw DeskError(.notFound, "no open consultation \(id)") }
        guard router.departments[c.department]?.externalBot != nil else { throw DeskError(.notAllowed, "\(c.department) has no external bot") }
        guard c.status == .bot else { throw DeskError(.conflict, "consultation \(id) is \(c.status.rawValue), no longer the bot's") }
        return c
    }

    // MARK: Agents

    /// The agent's workspace stream: a `hello` with what they hold and their departments'
    /// queues, then every notice for them. The agent is online while a stream is open; when the
    /// last one closes they go offline (their offers move on; what they hold stays theirs).
    public func connect(agent: String) async throws(DeskError) -> AsyncStream<DeskNotice> {
        try ensureRunning()
        guard let profile = router.profile(agent) else { throw DeskError(.notFound, "no agent \(agent): an admin adds agents first") }
        guard (streams[agent]?.count ?? 0) < Self.maximumStreamsPerAgent else {
            throw DeskError(.notAllowed, "\(agent) has \(Self.maximumStreamsPerAgent) workspaces open, the most one agent may")
        }
        let (stream, continuation) = AsyncStream<DeskNotice>.makeStream(bufferingPolicy: .bufferingNewest(Self.streamBuffer))
        let key = UUID()
        streams[agent, default: [:]][key] = continuation
        lastStreamClosed[agent] = nil
        continuation.onTermination = { [weak self] _ in Task { await self?.disconnected(agent: agent, key: key) } }
        var held: [ConsultationView] = []
        for h in router.consultations(heldBy: agent) {
            guard let c = open[h.id] else { continue }
            var v = view(c)
            v.assignee = agent
            held.append(v)
        }
        continuation.yield(DeskNotice(type: .hello, held: held))
        for h in held {
            continuation.yield(DeskNotice(type: .assigned, consultation: h, roomToken: await roomToken(agent: agent, room: h.room)))
        }
        for d in profile.departments.sorted() { continuation.yield(queueNotice(d)) }
        if router.presence(agent) != .online { await setPresence(agent: agent, .online) }
        return stream
    }

    private func disconnected(agent: String, key: UUID) async {
        streams[agent]?[key] = nil
        if streams[agent]?.isEmpty == true {
            streams[agent] = nil
            // A reload or a dropped network comes back within the grace period; a closed
            // workspace goes offline at the tick after it (its offers move on then).
            lastStreamClosed[agent] = clock()
        }
    }

    /// When `agent`'s last workspace stream closed, if it did and they are in the grace period.
    func lastStreamClosedForTesting(_ agent: String) -> Date? { lastStreamClosed[agent] }

    /// Consultations the bot has whose shopper went quiet for ``botIdleSeconds`` are abandoned.
    private func abandonIdleBotConsultations() {
        let now = clock()
        for c in open.values where c.status == .bot {
            let last = lastShopperActivity[c.id] ?? c.times.created
            guard now.timeIntervalSince(last) >= Self.botIdleSeconds else { continue }
            _ = try? move(c.id, to: .abandoned, assignee: nil, detail: "the shopper went quiet")
            lastShopperActivity[c.id] = nil
        }
    }

    /// Agents whose last workspace stream closed more than ``offlineGrace`` ago go offline.
    private func expireClosedWorkspaces() async {
        let now = clock()
        for (agent, closed) in lastStreamClosed where now.timeIntervalSince(closed) >= Self.offlineGrace {
            lastStreamClosed[agent] = nil
            if streams[agent] == nil { await setPresence(agent: agent, .offline) }
        }
    }

    /// Online, away (no new offers) or offline.
    public func setPresence(agent: String, _ presence: AgentPresence) async {
        guard !stopped else { return }
        guard let actions = try? router.handle(.presence(agent: agent, presence), now: clock()) else { return }
        await carryOut(actions)
    }

    public func accept(_ id: String, agent: String) async throws(DeskError) {
        try ensureRunning()
        await carryOut(try router.handle(.accept(consultation: id, agent: agent), now: clock()))
    }

    public func decline(_ id: String, agent: String) async throws(DeskError) {
        try ensureRunning()
        await carryOut(try router.handle(.decline(consultation: id, agent: agent), now: clock()))
    }

    /// Takes a waiting (or missed) consultation from the queue.
    public func pick(_ id: String, agent: String) async throws(DeskError) {
        try ensureRunning()
        if let c = open[id], c.status == .missed {
            guard let p = router.profile(agent), p.departments.contains(c.department) || p.supervisor else {
                throw DeskError(.notAllowed, "\(agent) does not serve \(c.department)")
            }
            // A left message: back with the router as a queued consultation, then taken.
            _ = try move(id, to: .active, assignee: agent, detail: "picked up a message")
            router.restore(from: [open[id]].compactMap { $0 })
            await assigned(id, agent: agent)
            return
        }
        await carryOut(try router.handle(.pick(consultation: id, agent: agent), now: clock()))
    }

    /// Hands a consultation to another online agent with free capacity; `note` (for them) is stored
    /// with it and shown in their `assigned` notice.
    public func transfer(_ id: String, from agent: String, to other: String, note: String? = nil) async throws(DeskError) {
        try ensureRunning()
        try Self.check(note ?? "", "note", max: 2_000)
        let actions = try router.handle(.transferToAgent(consultation: id, from: agent, to: other), now: clock())
        if let note, !note.isEmpty {
            try ensureRunning()
            try store.note(id, agent: agent, text: note, at: clock())
        }
        await carryOut(actions)
        notify(agent, DeskNotice(type: .revoked, consultation: open[id].map { view($0) }))
    }

    /// Back to the queue (to `department`'s, or its own), keeping its place.
    public func requeue(_ id: String, agent: String, department: String?, note: String? = nil) async throws(DeskError) {
        try ensureRunning()
        try Self.check(note ?? "", "note", max: 2_000)
        let actions = try router.handle(.requeue(consultation: id, by: agent, department: department), now: clock())
        if let note, !note.isEmpty {
            try ensureRunning()
            try store.note(id, agent: agent, text: note, at: clock())
        }
        var moved = try move(id, to: .queued, assignee: nil, detail: department.map { "transferred to \($0)" })
        if let department, department != moved.department {
            moved.department = department
            open[id] = moved
        }
        notify(agent, DeskNotice(type: .revoked, consultation: view(moved)))
        await tell(room: moved.room, "You're being connected with another colleague.")
        await carryOut(actions)
    }

    public func hold(_ id: String, agent: String, on: Bool) async throws(DeskError) {
        try ensureRunning()
        _ = try router.handle(.hold(consultation: id, by: agent, on: on), now: clock())
        _ = try move(id, to: on ? .onHold : .active, assignee: agent, detail: nil)
    }

    public func resolve(_ id: String, agent: String) async throws(DeskError) {
        try ensureRunning()
        let actions = try router.handle(.resolved(consultation: id, by: agent), now: clock())
        try finish(id, status: .resolved, by: agent)
        await carryOut(actions)
    }

    /// The consultations waiting in `department`, in order (for a supervisor, or an agent of it).
    public func queue(_ department: String) -> [ConsultationView] {
        router.queue(department).compactMap { w in open[w.id].map { view($0) } }
    }

    /// Messages left in `department` (``ConsultationStatus/missed``), oldest first, for an agent
    /// to pick up.
    public func leftMessages(_ department: String) -> [ConsultationView] {
        open.values.filter { $0.status == .missed && $0.department == department }
            .sorted { ($0.times.ended ?? $0.times.created) < ($1.times.ended ?? $1.times.created) }.map { view($0) }
    }

    /// What a supervisor watches: every agent's presence and load, every queue, every open
    /// consultation by status.
    public func overview() -> DeskOverview {
        var byStatus: [String: Int] = [:]
        for c in open.values { byStatus[c.status.rawValue, default: 0] += 1 }
        let agents = router.agentIDs.compactMap { id -> DeskOverview.Agent? in
            guard let p = router.profile(id) else { return nil }
            return DeskOverview.Agent(
                id: id, name: p.name, presence: router.presence(id) ?? .offline, load: router.load(id) ?? 0, capacity: p.capacity,
                departments: p.departments.sorted(), supervisor: p.supervisor,
                held: router.consultations(heldBy: id).compactMap { open[$0.id].map { view($0) } })
        }
        var queues: [String: [ConsultationView]] = [:]
        for d in router.departments.keys { queues[d] = queue(d) }
        return DeskOverview(agents: agents, queues: queues, open: byStatus)
    }

    public func isSupervisor(_ agent: String?) -> Bool { agent.flatMap { router.profile($0)?.supervisor } ?? false }
    public func serves(_ agent: String, department: String) -> Bool { router.profile(agent)?.departments.contains(department) ?? false }

    // MARK: Admin

    public func save(department: Department) async throws(DeskError) {
        try ensureRunning()
        let actions = try router.handle(.department(department), now: clock())
        try store.save(department)
        await carryOut(actions)
    }

    public func save(agent: AgentProfile) async throws(DeskError) {
        try ensureRunning()
        let actions = try router.handle(.agent(agent), now: clock())
        try store.save(agent)
        await carryOut(actions)
    }

    public func departments() -> [Department] { router.departments.values.sorted { $0.id < $1.id } }
    public func agents() -> [AgentProfile] { router.agentIDs.compactMap { router.profile($0) } }

    /// Replaces the FAQ the bot answers from (consultations the bot is in keep the old one).
    public func replace(faq new: FAQ) throws(DeskError) {
        try ensureRunning()
        try new.validate(departments: Set(router.departments.keys))
        faq = new
        index = FAQIndex(entries: new.entries)
    }

    public func currentFAQ() -> FAQ { faq }

    // MARK: Rooms

    /// A message stored in some room: the bot answers a shopper it still handles; an agent's or a
    /// shopper's message moves the reply-target clock.
    func observed(_ m: StoredMessage) async {
        guard let id = openInRoom[m.room], let c = open[id] else { return }
        if m.senderRole == "shopper", m.sender == c.shopper, case .text(let text) = m.content {
            if c.status == .bot, let external = router.departments[c.department]?.externalBot {
                lastShopperActivity[id] = clock()
                await webhooks.send(
                    "message.created", ExternalBotMessage(consultation: id, room: m.room, seq: m.seq, text: text, sentAt: m.sentAt), to: external)
            } else if c.status == .bot, var bot = bots[id] {
                lastShopperActivity[id] = clock()
                let decision = await bot.respond(to: text, at: clock(), orders: orders)
                bots[id] = bot
                await botDecided(decision, consultation: id)
            } else if c.status.holdsAnAgent {
                await carryOut((try? router.handle(.shopperMessage(consultation: id), now: clock())) ?? [])
            }
        } else if m.senderRole == "agent", m.sender == c.assignee {
            if c.times.firstAgentReply == nil {
                try? store.recordFirstReply(id, byAgent: true, at: m.sentAt)
                open[id]?.times.firstAgentReply = m.sentAt
            }
            await carryOut((try? router.handle(.agentMessage(consultation: id), now: clock())) ?? [])
        }
    }

    private func botDecided(_ decision: BotDecision, consultation id: String) async {
        guard let c = open[id] else { return }
        switch decision {
        case .reply(let text, _):
            botReplies += 1
            await say(room: c.room, text)
            if c.times.firstBotReply == nil {
                let now = clock()
                try? store.recordFirstReply(id, byAgent: false, at: now)
                open[id]?.times.firstBotReply = now
            }
        case .lookUpOrder:
            break  // `respond(to:at:orders:)` finishes the lookup before it returns
        case .handOff(let reason, let closed):
            handOffs[reason, default: 0] += 1
            bots[id] = nil
            do {
                let actions = try router.handle(
                    .queued(consultation: id, department: c.department, priority: reason == .vip ? max(c.priority, Self.vipPriority) : c.priority, skills: c.skills),
                    now: clock())
                _ = try move(id, to: .queued, assignee: nil, detail: reason.rawValue)
                if closed != nil {
                    await tell(room: c.room, "We're closed right now; you're in the queue and an agent will answer when we open, or leave us a message.")
                } else {
                    await tell(room: c.room, "Connecting you with a person.")
                }
                // The queue change tells the shopper their place (once).
                await carryOut(actions)
            } catch {
                logger.warning("desk: hand-off failed", metadata: ["consultation": .string(id), "error": .string(error.description)])
            }
        }
    }

    private func makeBot(for c: Consultation) -> BotTriage {
        BotTriage(
            index: index, locale: c.context.locale, department: c.department, tier: c.priority >= Self.vipPriority ? .vip : .standard,
            hours: router.departments[c.department]?.hours)
    }

    // MARK: Carrying out the router's decisions

    private func carryOut(_ actions: [RouterAction]) async {
        for action in actions {
            switch action {
            case .offer(let id, let agent, let until):
                guard (try? move(id, to: .offered, assignee: nil, detail: agent)) != nil, let c = open[id] else { continue }
                notify(agent, DeskNotice(type: .offer, consultation: view(c), until: until))
            case .offerWithdrawn(let id, let agent):
                if open[id]?.status == .offered { _ = try? move(id, to: .queued, assignee: nil, detail: "offer to \(agent) withdrawn") }
                notify(agent, DeskNotice(type: .offerWithdrawn, consultation: open[id].map { view($0) }))
            case .assigned(let id, let agent):
                guard (try? move(id, to: .active, assignee: agent, detail: nil)) != nil else { continue }
                await assigned(id, agent: agent)
            case .queueChanged(let department):
                if let last = lastQueueNotice[department], ContinuousClock.now - last < Self.queueNoticeInterval {
                    pendingQueueNotices.insert(department)
                } else {
                    await announceQueue(department)
                }
            case .replyOverdue(let id, let agent, let others, let missed):
                let c = open[id].map { view($0) }
                for a in Set([agent] + others) { notify(a, DeskNotice(type: .overdue, consultation: c, targetsMissed: missed)) }
            case .reassigned(let id, let from):
                guard let c = try? move(id, to: .queued, assignee: nil, detail: "reassigned from \(from)") else { continue }
                notify(from, DeskNotice(type: .revoked, consultation: view(c)))
                await tell(room: c.room, "Sorry for the wait — we're finding you another colleague.")
            case .offerToLeaveMessage(let id):
                guard let c = open[id] else { continue }
                await tell(room: c.room, "All our agents are still busy. You can keep waiting, or leave us a message and we'll reply here.")
            }
        }
    }

    private func assigned(_ id: String, agent: String) async {
        guard let c = open[id] else { return }
        toldPosition[id] = nil
        let token = await roomToken(agent: agent, room: c.room)
        var notice = DeskNotice(type: .assigned, consultation: view(c), roomToken: token)
        notice.notes = ((try? store.events(of: id)) ?? []).filter { $0.kind == .note }.map {
            DeskNotice.Note(agent: $0.agent ?? "", text: $0.detail ?? "", at: $0.at)
        }
        notice.previous = ((try? store.consultations(shopper: c.shopper, limit: 6)) ?? []).filter { $0.id != id }.prefix(5).map { view($0) }
        notify(agent, notice)
        await tell(room: c.room, "\(router.profile(agent)?.name ?? agent) has joined the chat.")
    }

    private func roomToken(agent: String, room: String) async -> String? {
        try? await auth.mint(identity: agent, room: room, role: .agent, ttl: roomTokenSeconds)
    }

    /// The department's queue to its agents (and supervisors), and each waiting shopper's place
    /// when it changed.
    private func announceQueue(_ department: String) async {
        lastQueueNotice[department] = .now
        pendingQueueNotices.remove(department)
        let notice = queueNotice(department)
        for a in router.agentIDs where router.profile(a)?.departments.contains(department) == true || isSupervisor(a) {
            notify(a, notice)
        }
        for w in router.queue(department) { await tellPosition(w.id, force: false) }
    }

    /// Announces the queues whose changes waited for ``queueNoticeInterval``.
    func announcePendingQueues() async {
        guard !stopped else { return }
        for d in pendingQueueNotices where lastQueueNotice[d].map({ ContinuousClock.now - $0 >= Self.queueNoticeInterval }) ?? true {
            await announceQueue(d)
        }
    }

    private func queueNotice(_ department: String) -> DeskNotice {
        var n = DeskNotice(type: .queue, department: department, queue: queue(department))
        n.messages = leftMessages(department)
        return n
    }

    /// Tells a waiting shopper their place and wait, when it changed (or `force`).
    private func tellPosition(_ id: String, force: Bool) async {
        guard let c = open[id], c.status.isWaiting, let position = router.position(of: id) else { return }
        guard force || toldPosition[id] != position else { return }
        toldPosition[id] = position
        let v = view(c)
        var text = "You're number \(position) in the queue."
        if let s = v.waitSeconds { text += " Estimated wait: \(Self.describe(seconds: s))." }
        await tell(room: c.room, text)
    }

    static func describe(seconds: Double) -> String {
        if seconds < 60 { return "under a minute" }
        let minutes = Int((seconds / 60).rounded())
        return minutes == 1 ? "about 1 minute" : "about \(minutes) minutes"
    }

    func tick() async {
        guard !stopped else { return }
        await announcePendingQueues()
        await expireClosedWorkspaces()
        abandonIdleBotConsultations()
        let actions = (try? router.handle(.tick, now: clock())) ?? []
        await carryOut(actions)
    }

    // MARK: Store and rooms

    /// Stores a status move (and its event) and keeps the open set in step.
    @discardableResult
    private func move(_ id: String, to status: ConsultationStatus, assignee: String?, detail: String?) throws(DeskError) -> Consultation {
        try ensureRunning()
        let moved = try store.move(id, to: status, assignee: assignee, at: clock(), detail: detail)
        moves[status, default: 0] += 1
        if status.isFinal || status != .bot { lastShopperActivity[id] = nil }
        if status.isFinal {
            open[id] = nil
            if openInRoom[moved.room] == id { openInRoom[moved.room] = nil }
            bots[id] = nil
            toldPosition[id] = nil
        } else {
            open[id] = moved
        }
        transitionSink.yield(DeskTransition(event: "consultation." + status.rawValue, consultation: ConsultationView(moved), at: clock()))
        return moved
    }

    private func finish(_ id: String, status: ConsultationStatus, by agent: String?) throws(DeskError) {
        guard let c = open[id] else { throw DeskError(.notFound, "no consultation \(id)") }
        let handled = c.times.queued.map { clock().timeIntervalSince($0) }
        let moved = try move(id, to: status, assignee: agent, detail: nil)
        if let handled, c.status.holdsAnAgent { estimators[c.department, default: WaitEstimator()].record(handlingSeconds: handled) }
        if let agent { notify(agent, DeskNotice(type: .ended, consultation: view(moved))) }
    }

    /// A line from the bot in a room.
    private func say(room: String, _ text: String) async {
        guard !stopped else { return }
        _ = try? await hub.post(room: room, sender: Self.botIdentity, role: Self.botRole, clientID: "bot-" + UUID().uuidString, content: .text(text))
    }

    /// A `system` line in a room: a status the shopper should see.
    private func tell(room: String, _ text: String) async {
        guard !stopped else { return }
        _ = try? await hub.post(room: room, sender: Self.botIdentity, role: "system", clientID: "sys-" + UUID().uuidString, content: .system(text))
    }

    private func notify(_ agent: String, _ notice: DeskNotice) {
        for c in streams[agent]?.values ?? [:].values { c.yield(notice) }
    }

    private func view(_ c: Consultation) -> ConsultationView {
        if c.status.holdsAnAgent, let h = router.heldConsultation(c.id) {
            var v = ConsultationView(c)
            v.unansweredSince = h.unansweredSince
            if let since = h.unansweredSince, let target = router.departments[c.department]?.replyTargetSeconds, target > 0 {
                v.targetsMissed = Int(clock().timeIntervalSince(since) / target)
            }
            return v
        }
        guard c.status.isWaiting, let position = router.position(of: c.id) else { return ConsultationView(c) }
        let capacity = router.capacity(of: c.department)
        let estimate = estimators[c.department, default: WaitEstimator()].estimate(
            position: position, capacity: QueueCapacity(totalSlots: capacity.slots, busySlots: capacity.slots - capacity.free))
        return ConsultationView(c, position: position, waitSeconds: estimate?.seconds)
    }

    /// The desk's clock (injected: tests move it).
    func clockNow() -> Date { clock() }

    /// Figures for /metrics (``DeskMetrics``).
    public func metrics() -> DeskMetrics {
        var byStatus: [ConsultationStatus: Int] = [:]
        for c in open.values { byStatus[c.status, default: 0] += 1 }
        let now = clock()
        let lastHour = (try? report(from: now.addingTimeInterval(-3_600), to: now.addingTimeInterval(1)))
            ?? DeskReport(from: now, to: now, consultations: [], assignments: [], replyTargets: [:], now: now)
        return DeskMetrics(
            open: byStatus, moves: moves, botReplies: botReplies, handOffs: handOffs, agents: overview().agents, lastHour: lastHour,
            droppedMessages: consultationRooms.dropped.load(ordering: .relaxed))
    }
}

/// The order lookup when the shop has configured none: every lookup is `unavailable`, and the bot
/// says it cannot check and offers a person.
public struct NoOrderLookup: OrderStatusLookup {
    public init() {}
    public func status(ofOrder id: String, locale: String?) async -> OrderLookupResult { .unavailable }
}

// MARK: Reports and forecasts

extension DeskService {
    /// The figures of the consultations created in `[from, to)` (``DeskReport``); a range holding
    /// more than ``DeskReport/maximumConsultations`` is refused.
    public func report(from: Date, to: Date) throws(DeskError) -> DeskReport {
        guard from < to else { throw DeskError(.invalidArgument, "from must be before to") }
        let consultations = try store.consultations(createdFrom: from, to: to)
        guard consultations.count <= DeskReport.maximumConsultations else {
            throw DeskError(.invalidArgument, "the range holds more than \(DeskReport.maximumConsultations) consultations; ask for a shorter one")
        }
        let targets = Dictionary(uniqueKeysWithValues: departments().map { ($0.id, $0.replyTargetSeconds) })
        return DeskReport(
            from: from, to: to, consultations: consultations, assignments: try store.assignments(createdFrom: from, to: to),
            replyTargets: targets, now: now())
    }

    /// The staffing forecast of `department` for `days` days from today (docs/desk.md, "Arrival
    /// forecast" and "Staffing"): arrivals per half hour from the last weeks of stored
    /// consultations handed to a person, and the agents needed for the reply target.
    public func forecast(department: String, days: Int, timeZone: TimeZone) throws(DeskError) -> DeskForecast {
        guard let d = departments().first(where: { $0.id == department }) else { throw DeskError(.unknownDepartment, "no department \(department)") }
        let configuration = ArrivalForecast.Configuration()
        let end = now(), start = end.addingTimeInterval(-Double(configuration.weeks) * 7 * 86_400)
        let consultations = try store.consultations(createdFrom: start, to: end).filter { $0.department == department && $0.times.queued != nil }
        guard consultations.count <= DeskReport.maximumConsultations else { throw DeskError(.invalidArgument, "too much history to forecast from") }
        var taken: [String: Date] = [:]
        for e in try store.assignments(createdFrom: start, to: end) where taken[e.consultation] == nil { taken[e.consultation] = e.at }
        let handling = consultations.compactMap { c -> HandlingSample? in
            guard let t = taken[c.id], let r = c.times.resolved else { return nil }
            return HandlingSample(arrivedAt: c.times.created, seconds: r.timeIntervalSince(t))
        }
        do {
            let history = ArrivalHistory(arrivals: consultations.map(\.times.created), handling: handling, covered: DateInterval(start: start, end: end))
            let slots = try ArrivalForecast(timeZone: timeZone, configuration: configuration).forecast(history: history, from: end, days: days)
            let plan = try StaffingPlan(forecast: slots, target: StaffingPlan.Target(replySeconds: d.replyTargetSeconds))
            return DeskForecast(department: department, timeZone: timeZone.identifier, slots: plan.slots, peakAgents: plan.peakAgents, agentHours: plan.agentHours)
        } catch {
            throw DeskError(.invalidArgument, "forecast: \(error.description)")
        }
    }

    private func now() -> Date { clockNow() }
}

/// `GET /api/reports/forecast`: the expected arrivals and the agents needed, per half hour.
public struct DeskForecast: Codable, Sendable, Equatable {
    public var department: String
    public var timeZone: String
    public var slots: [StaffingPlan.Slot]
    public var peakAgents: Int
    public var agentHours: Double
}

/// What an external bot is sent for each shopper message (`message.created`).
public struct ExternalBotMessage: Codable, Sendable, Equatable {
    public var consultation: String
    public var room: String
    public var seq: Int64
    public var text: String
    public var sentAt: Date
}
