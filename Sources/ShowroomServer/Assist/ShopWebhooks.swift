import Assist
import Foundation
import Logging

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Delivers the shop's webhooks (docs/assist.md, "Webhooks"): the rules — which endpoints want an
/// event, the retry schedule, pausing an endpoint that keeps failing, the bounded outbox and
/// delivery log — are ``WebhookOutbox``'s; this actor stores each change (an ``AssistStore``:
/// a restart loses no pending delivery) and performs the POSTs, signed as
/// ``WebhookSignature`` says, at most ``concurrentDeliveries`` at once, each with a
/// ``requestTimeout``.
actor ShopWebhooks {
    /// Its store calls block: it runs on a thread of its own, not Swift's cooperative pool.
    private nonisolated let executor = StoreThreadExecutor(name: "showroom-webhooks")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    deinit { executor.stop() }

    static let concurrentDeliveries = 8
    static let requestTimeout: TimeInterval = 5
    /// How often due deliveries are looked for when nothing wakes the sender sooner.
    static let pollInterval: Duration = .milliseconds(500)

    private var outbox: WebhookOutbox
    private let store: any AssistStore
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let session: URLSession
    private(set) var failedToQueue = 0
    private(set) var shedMessages = 0

    init(
        store: any AssistStore, configuration: WebhookOutbox.Configuration = WebhookOutbox.Configuration(), clock: @escaping @Sendable () -> Date,
        logger: Logger
    ) throws(AssistError) {
        self.store = store
        self.clock = clock
        self.logger = logger
        outbox = WebhookOutbox(configuration: configuration, endpoints: try store.webhookEndpoints(), pending: try store.pendingDeliveries())
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Self.requestTimeout
        configuration.httpMaximumConnectionsPerHost = Self.concurrentDeliveries
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    /// Queues an event for the endpoints that want it (an event kind no endpoint takes, or one
    /// not in ``WebhookEventKind``, costs nothing).
    func publish(_ name: String, _ payload: some Encodable & Sendable) {
        guard let kind = WebhookEventKind(rawValue: name), outbox.endpoints.values.contains(where: { $0.wants(kind) }) else { return }
        // Chat is the bulk: while the shop's endpoint is slow or down, messages stop queueing at
        // half the outbox, so they never push out consultation and conversion events.
        if kind == .messageCreated, outbox.pending.count >= outbox.configuration.maximumPending / 2 {
            shedMessages += 1
            return
        }
        let now = clock()
        do {
            let event = try WebhookEvent(id: UUID().uuidString.lowercased(), kind: kind, at: now, encoding: payload)
            let (created, dropped) = outbox.enqueue(event, now: now)
            for d in created { try store.saveDelivery(d) }
            for d in dropped { try store.deleteDelivery(id: d.id) }
        } catch {
            failedToQueue += 1
            logger.warning("assist: webhook event not queued", metadata: ["event": .string(name), "error": .string(String(describing: error))])
        }
    }

    /// Sends what is due until the task is cancelled.
    func run() async {
        while !Task.isCancelled {
            let due = outbox.due(now: clock(), limit: Self.concurrentDeliveries)
            if due.isEmpty {
                try? await Task.sleep(for: Self.pollInterval)
                continue
            }
            await withTaskGroup(of: (String, WebhookAttemptResult).self) { group in
                for d in due {
                    guard let endpoint = outbox.endpoints[d.endpoint] else { continue }
                    let body = d.event.body
                    let headers = WebhookSignature.headers(secret: endpoint.secret, body: body, now: clock())
                    group.addTask { [session] in (d.id, await Self.post(session, url: endpoint.url, body: body, headers: headers)) }
                }
                for await (id, result) in group { complete(id, result) }
            }
        }
    }

    private func complete(_ id: String, _ result: WebhookAttemptResult) {
        let completion = outbox.complete(id, result: result, now: clock())
        do {
            if let d = completion.delivery { try store.saveDelivery(d) } else { try store.deleteDelivery(id: id) }
            if let paused = completion.pausedEndpoint {
                try store.saveWebhookEndpoint(paused)
                logger.warning("assist: webhook paused after repeated failures", metadata: ["endpoint": .string(paused.id)])
            }
        } catch {
            logger.error("assist: webhook state not stored", metadata: ["error": .string(String(describing: error))])
        }
    }

    private static func post(_ session: URLSession, url: String, body: Data, headers: [(name: String, value: String)]) async -> WebhookAttemptResult {
        guard let u = URL(string: url) else { return .transportError("not a URL") }
        var request = URLRequest(url: u)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for h in headers { request.setValue(h.value, forHTTPHeaderField: h.name) }
        do {
            let (_, response) = try await session.dataCancellingSafely(for: request)
            return .status((response as? HTTPURLResponse)?.statusCode ?? 0)
        } catch {
            return .transportError(String(describing: error).prefix(300).description)
        }
    }

    // MARK: Admin

    /// Every endpoint (secrets redacted) with its failures, waiting deliveries and log.
    func status() -> [WebhookStatus] {
        outbox.endpoints.values.sorted { $0.id < $1.id }.map { e in
            WebhookStatus(
                endpoint: e.redacted, consecutiveFailures: outbox.consecutiveFailures(of: e.id),
                pending: outbox.pending.filter { $0.endpoint == e.id }.count, log: Array(outbox.log(of: e.id).suffix(50)))
        }
    }

    func save(_ endpoint: WebhookEndpoint) throws(AssistError) -> WebhookEndpoint {
        var next = outbox
        try next.upsert(endpoint)
        try store.saveWebhookEndpoint(endpoint)
        outbox = next
        return endpoint.redacted
    }

    func delete(_ id: String) throws(AssistError) {
        var next = outbox
        let dropped = try next.remove(endpoint: id)
        try store.deleteWebhookEndpoint(id: id)
        for d in dropped { try store.deleteDelivery(id: d.id) }
        outbox = next
    }

    func resume(_ id: String) throws(AssistError) {
        var next = outbox
        let (endpoint, deliveries) = try next.resume(id, now: clock())
        try store.saveWebhookEndpoint(endpoint)
        for d in deliveries { try store.saveDelivery(d) }
        outbox = next
    }

    /// Endpoints paused for failing, for the supervisor view.
    func paused() -> [WebhookEndpoint] { outbox.pausedEndpoints.map(\.redacted) }
}

/// An endpoint as the admin API and the supervisor view show it.
struct WebhookStatus: Codable, Sendable {
    var endpoint: WebhookEndpoint
    var consecutiveFailures: Int
    var pending: Int
    var log: [WebhookLogEntry]
}

/// A webhook goes to the URL the admin set and nowhere else: a redirect is not followed (the
/// attempt ends with the 3xx, a failure), so an endpoint cannot send the signed POST on to an
/// address of its choosing (hardening review).
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
