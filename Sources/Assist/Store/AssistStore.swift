import Foundation

/// Where agent assist keeps what must survive a restart: the script library and guided flows, each
/// consultation's flow progress, the hint rules, the tracked items sent and the conversions
/// counted, the webhook endpoints and the deliveries still waiting. Every call is synchronous and
/// atomic. ``SQLiteAssistStore`` is the embedded implementation.
public protocol AssistStore: Sendable {
    // MARK: Scripts and flows
    /// By short code.
    func scripts() throws(AssistError) -> [Script]
    /// Adds or replaces (by id); `conflict` if another script has its short code.
    func saveScript(_ script: Script) throws(AssistError)
    /// `not_found` if there is none.
    func deleteScript(id: String) throws(AssistError)
    /// By department.
    func flows() throws(AssistError) -> [GuidedFlow]
    func saveFlow(_ flow: GuidedFlow) throws(AssistError)
    func deleteFlow(department: String) throws(AssistError)
    /// Replaces the whole library and every flow in one transaction (an import: ``ScriptImport``).
    func replaceScripts(_ scripts: [Script], flows: [GuidedFlow]) throws(AssistError)
    func progress(consultation: String) throws(AssistError) -> FlowProgress?
    func saveProgress(_ progress: FlowProgress) throws(AssistError)

    // MARK: Hints
    /// In the admin's order.
    func hintRules() throws(AssistError) -> [HintRule]
    /// Replaces every rule in one transaction (the admin API sends the list; compile it with
    /// ``HintEngine/init(rules:)`` first).
    func replaceHintRules(_ rules: [HintRule]) throws(AssistError)

    // MARK: Conversions
    /// A tracked item sent (its token's fields; ``TrackingToken/issued`` is the time).
    func recordSend(_ token: TrackingToken) throws(AssistError)
    /// Items sent in `[from, to)`, in order.
    func sends(from: Date, to: Date) throws(AssistError) -> [TrackingToken]
    /// A counted conversion; `false` (and nothing stored) when one with the same kind and order id
    /// (or report id) is stored already — the store enforces "counted once" across restarts too.
    @discardableResult
    func recordConversion(_ event: ConversionEvent) throws(AssistError) -> Bool
    /// Conversions in `[from, to)`, in order.
    func conversions(from: Date, to: Date) throws(AssistError) -> [ConversionEvent]

    // MARK: Webhooks
    func webhookEndpoints() throws(AssistError) -> [WebhookEndpoint]
    func saveWebhookEndpoint(_ endpoint: WebhookEndpoint) throws(AssistError)
    /// Removes the endpoint and its waiting deliveries.
    func deleteWebhookEndpoint(id: String) throws(AssistError)
    /// Oldest first.
    func pendingDeliveries() throws(AssistError) -> [WebhookDelivery]
    /// Adds or replaces (by id).
    func saveDelivery(_ delivery: WebhookDelivery) throws(AssistError)
    /// Removes a delivery (delivered, given up, dropped); no error if it is gone already.
    func deleteDelivery(id: String) throws(AssistError)
}
