import Foundation

/// The outgoing webhooks' state machine, I/O-free: events in (``enqueue(_:now:)``), deliveries out
/// to attempt (``due(now:limit:)``), results back (``complete(_:result:now:)``). The server's
/// sender performs the POSTs (body ``WebhookEvent/body``, headers ``WebhookSignature/headers(secret:body:now:)``)
/// and stores what each call returns; every time comes from the caller.
///
/// **Retries.** An attempt fails on a non-2xx status or a transport error. After failed attempt
/// *n* the delivery is due again after ``Configuration/retryDelays``[*n*−1] — by default 5 s, 30 s,
/// 2 min, 10 min, 30 min — and after ``Configuration/maximumAttempts`` (6) failed attempts it is
/// given up (logged, removed). No jitter: the schedule is exact and testable; deliveries to one
/// endpoint spread by their own enqueue times.
///
/// **Pause.** ``Configuration/pauseAfterConsecutiveFailures`` (10) failed attempts in a row to one
/// endpoint, whatever the deliveries, pause it: its deliveries wait (new events for it are still
/// queued, within the outbox's bound) and it shows in the supervisor view until an admin resumes
/// it (``resume(_:now:)``), which makes its waiting deliveries due at once with a fresh set of
/// attempts. A success resets the count.
///
/// **Bounds.** At most ``Configuration/maximumPending`` deliveries wait (10,000); enqueueing past
/// that drops the oldest, logs it and counts it in ``dropped``. Each endpoint's log keeps its last
/// ``Configuration/logLimit`` (200) entries. At most ``maximumEndpoints`` endpoints.
public struct WebhookOutbox: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var retryDelays: [TimeInterval] = [5, 30, 120, 600, 1_800]
        public var maximumAttempts = 6
        public var pauseAfterConsecutiveFailures = 10
        public var maximumPending = 10_000
        public var logLimit = 200
        /// A delivery handed out and not completed within this time is due again.
        public var leaseDuration: TimeInterval = 60

        public init() {}

        /// The wait after failed attempt `attempt` (from 1); the last delay repeats if
        /// ``maximumAttempts`` is raised past the schedule.
        public func delay(afterAttempt attempt: Int) -> TimeInterval {
            guard let last = retryDelays.last else { return 0 }
            return attempt >= 1 && attempt <= retryDelays.count ? retryDelays[attempt - 1] : last
        }
    }

    public static let maximumEndpoints = 50

    public let configuration: Configuration
    public private(set) var endpoints: [String: WebhookEndpoint]
    /// Waiting deliveries, oldest first.
    public private(set) var pending: [WebhookDelivery]
    /// Deliveries dropped because the outbox was full, since this value was made.
    public private(set) var dropped = 0
    public private(set) var delivered = 0
    public private(set) var gaveUp = 0
    private var logs: [String: [WebhookLogEntry]] = [:]
    private var consecutiveFailures: [String: Int] = [:]

    /// An outbox with `endpoints` and the `pending` deliveries a store kept (a restart).
    public init(configuration: Configuration = Configuration(), endpoints: [WebhookEndpoint] = [], pending: [WebhookDelivery] = []) {
        self.configuration = configuration
        let byID = Dictionary(endpoints.map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })
        var kept = pending.filter { byID[$0.endpoint] != nil }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
        // A lease does not survive a restart: the sender that held it is gone.
        for i in kept.indices { kept[i].leasedUntil = nil }
        self.endpoints = byID
        self.pending = kept
    }

    // MARK: Endpoints (admin API)

    /// Adds or replaces an endpoint (keeping its pause state unless `endpoint` sets it).
    public mutating func upsert(_ endpoint: WebhookEndpoint) throws(AssistError) {
        try endpoint.validate()
        guard endpoints[endpoint.id] != nil || endpoints.count < Self.maximumEndpoints else {
            throw AssistError(.tooLarge, "more than \(Self.maximumEndpoints) webhooks")
        }
        endpoints[endpoint.id] = endpoint
    }

    /// Removes an endpoint with its waiting deliveries and log; returns the deliveries removed.
    @discardableResult
    public mutating func remove(endpoint id: String) throws(AssistError) -> [WebhookDelivery] {
        guard endpoints.removeValue(forKey: id) != nil else { throw AssistError(.notFound, "no webhook \(id)") }
        let removed = pending.filter { $0.endpoint == id }
        pending.removeAll { $0.endpoint == id }
        logs[id] = nil
        consecutiveFailures[id] = nil
        return removed
    }

    /// Pauses an endpoint by hand.
    public mutating func pause(_ id: String, reason: String = "paused by an admin", now: Date) throws(AssistError) -> WebhookEndpoint {
        guard var e = endpoints[id] else { throw AssistError(.notFound, "no webhook \(id)") }
        e.paused = true
        e.pausedReason = reason
        e.pausedAt = now
        endpoints[id] = e
        log(id, WebhookLogEntry(deliveryID: nil, eventID: nil, event: nil, attempt: nil, status: nil, error: reason, outcome: .paused, at: now))
        return e
    }

    /// Resumes a paused endpoint: its waiting deliveries are due at `now`, each with a fresh set of
    /// attempts. Returns the endpoint and the deliveries changed (store them).
    public mutating func resume(_ id: String, now: Date) throws(AssistError) -> (endpoint: WebhookEndpoint, deliveries: [WebhookDelivery]) {
        guard var e = endpoints[id] else { throw AssistError(.notFound, "no webhook \(id)") }
        e.paused = false
        e.pausedReason = nil
        e.pausedAt = nil
        endpoints[id] = e
        consecutiveFailures[id] = 0
        var changed: [WebhookDelivery] = []
        for i in pending.indices where pending[i].endpoint == id {
            pending[i].attempts = 0
            pending[i].nextAttempt = now
            pending[i].leasedUntil = nil
            changed.append(pending[i])
        }
        log(id, WebhookLogEntry(deliveryID: nil, eventID: nil, event: nil, attempt: nil, status: nil, error: nil, outcome: .resumed, at: now))
        return (e, changed)
    }

    /// Paused endpoints, for the supervisor view (secrets removed).
    public var pausedEndpoints: [WebhookEndpoint] {
        endpoints.values.filter(\.paused).map(\.redacted).sorted { $0.id < $1.id }
    }

    /// Failed attempts in a row to `endpoint` (0 after a success or a resume).
    public func consecutiveFailures(of endpoint: String) -> Int { consecutiveFailures[endpoint] ?? 0 }

    /// The endpoint's delivery log, oldest first (at most ``Configuration/logLimit`` entries).
    public func log(of endpoint: String) -> [WebhookLogEntry] { logs[endpoint] ?? [] }

    // MARK: The state machine

    /// Queues `event` for every endpoint whose filter takes it (a paused one's wait). An event
    /// already queued for an endpoint (same event id) is not queued twice. Returns the new
    /// deliveries and those dropped to make room (oldest first).
    @discardableResult
    public mutating func enqueue(_ event: WebhookEvent, now: Date) -> (deliveries: [WebhookDelivery], dropped: [WebhookDelivery]) {
        var created: [WebhookDelivery] = []
        var lost: [WebhookDelivery] = []
        for e in endpoints.values.sorted(by: { $0.id < $1.id }) where e.wants(event.kind) {
            let d = WebhookDelivery(endpoint: e.id, event: event, now: now)
            guard !pending.contains(where: { $0.id == d.id }) else { continue }
            if pending.count >= configuration.maximumPending, !pending.isEmpty {
                let old = pending.removeFirst()
                dropped += 1
                lost.append(old)
                log(old.endpoint, entry(old, attempt: nil, status: nil, error: "outbox full", outcome: .dropped, at: now))
            }
            pending.append(d)
            created.append(d)
        }
        return (created, lost)
    }

    /// The deliveries to attempt now, at most `limit`, earliest due first: due, of an endpoint not
    /// paused, and not handed out already (a lease ends after ``Configuration/leaseDuration``).
    public mutating func due(now: Date, limit: Int = 100) -> [WebhookDelivery] {
        var picked: [Int] = []
        for (i, d) in pending.enumerated() where d.nextAttempt <= now && (d.leasedUntil.map { $0 <= now } ?? true) {
            if endpoints[d.endpoint]?.paused == false { picked.append(i) }
        }
        picked.sort { (pending[$0].nextAttempt, $0) < (pending[$1].nextAttempt, $1) }
        var out: [WebhookDelivery] = []
        for i in picked.prefix(max(limit, 0)) {
            pending[i].leasedUntil = now + configuration.leaseDuration
            out.append(pending[i])
        }
        return out
    }

    /// The earliest time a waiting delivery becomes due (for the sender's timer); `nil` if none.
    public func nextDue() -> Date? {
        pending.filter { endpoints[$0.endpoint]?.paused == false }.map { max($0.nextAttempt, $0.leasedUntil ?? $0.nextAttempt) }.min()
    }

    /// Records how an attempt of delivery `id` ended (see the type's retry and pause rules).
    public mutating func complete(_ id: String, result: WebhookAttemptResult, now: Date) -> WebhookCompletion {
        guard let i = pending.firstIndex(where: { $0.id == id }) else {
            return WebhookCompletion(outcome: .unknownDelivery, delivery: nil, pausedEndpoint: nil)
        }
        var d = pending[i]
        d.attempts += 1
        d.leasedUntil = nil
        let status: Int? = if case .status(let s) = result { s } else { nil }
        if result.isSuccess {
            pending.remove(at: i)
            delivered += 1
            consecutiveFailures[d.endpoint] = 0
            log(d.endpoint, entry(d, attempt: d.attempts, status: status, error: nil, outcome: .delivered, at: now))
            return WebhookCompletion(outcome: .delivered, delivery: nil, pausedEndpoint: nil)
        }
        let error: String =
            switch result {
            case .status(let s): "HTTP \(s)"
            case .transportError(let text): String(text.prefix(300))
            }
        d.lastError = error
        let failures = consecutiveFailures[d.endpoint, default: 0] + 1
        consecutiveFailures[d.endpoint] = failures
        var outcome: WebhookCompletion.Outcome
        var remaining: WebhookDelivery?
        if d.attempts >= configuration.maximumAttempts {
            pending.remove(at: i)
            gaveUp += 1
            outcome = .gaveUp
            log(d.endpoint, entry(d, attempt: d.attempts, status: status, error: error, outcome: .gaveUp, at: now))
        } else {
            d.nextAttempt = now + configuration.delay(afterAttempt: d.attempts)
            pending[i] = d
            remaining = d
            outcome = .retry(at: d.nextAttempt)
            log(d.endpoint, entry(d, attempt: d.attempts, status: status, error: error, outcome: .retrying, next: d.nextAttempt, at: now))
        }
        var paused: WebhookEndpoint?
        if failures >= configuration.pauseAfterConsecutiveFailures, endpoints[d.endpoint]?.paused == false {
            paused = try? pause(d.endpoint, reason: "\(failures) failed attempts in a row", now: now)
        }
        return WebhookCompletion(outcome: outcome, delivery: remaining, pausedEndpoint: paused)
    }

    // MARK: Log

    private func entry(
        _ d: WebhookDelivery, attempt: Int?, status: Int?, error: String?, outcome: WebhookLogEntry.Outcome, next: Date? = nil, at: Date
    ) -> WebhookLogEntry {
        WebhookLogEntry(
            deliveryID: d.id, eventID: d.event.id, event: d.event.kind, attempt: attempt, status: status, error: error, outcome: outcome,
            nextAttempt: next, at: at)
    }

    private mutating func log(_ endpoint: String, _ e: WebhookLogEntry) {
        var l = logs[endpoint, default: []]
        l.append(e)
        if l.count > configuration.logLimit { l.removeFirst(l.count - configuration.logLimit) }
        logs[endpoint] = l
    }
}
