import Foundation

/// Conversion attribution, I/O-free: the tracked items sent (``sent(_:)``) and the shop's reports
/// (``record(_:)``), and the report over them (``summary(from:to:)``).
///
/// Attribution rules (docs/assist.md, "Conversions"), in order:
/// 1. A malformed report (an order without an order id, a bad amount or currency) throws
///    `invalid_argument`.
/// 2. No token: counted as **unattributed** (a consultation the caller names without a token is not
///    trusted and not used).
/// 3. A token that does not verify (forged, altered, another key): **rejected**, not counted.
/// 4. The report names a consultation and the token another: **rejected**.
/// 5. The same kind and order id (or report id) counted before: **duplicate**, not counted again —
///    whether the first was attributed or not.
/// 6. Otherwise **attributed** to the token's consultation, agent and department.
///
/// The ledger holds what it is given; a server keeps the sends and events in its store
/// (``AssistStore``), restores a ledger with ``init(key:sends:events:)`` and computes a report
/// window with ``summarize(sends:events:from:to:)``.
public struct ConversionLedger: Sendable {
    public let key: TrackingKey
    /// Every tracked item sent, in order.
    public private(set) var sends: [TrackingToken]
    /// Every counted report, in order.
    public private(set) var events: [ConversionEvent]
    private var seen: Set<String>

    public init(key: TrackingKey, sends: [TrackingToken] = [], events: [ConversionEvent] = []) {
        self.key = key
        self.sends = sends
        self.events = events
        self.seen = Set(events.compactMap(\.deduplicationKey))
    }

    /// Records that `token`'s item was sent (its ``TrackingToken/issued`` time is the send time).
    public mutating func sent(_ token: TrackingToken) { sends.append(token) }

    /// Mints the token for `item` sent by `agent` in `consultation` now, records the send and
    /// returns the token string to put on the card or coupon link.
    public mutating func mint(
        consultation: String, agent: String, department: String?, item: TrackedItem, now: Date
    ) throws(AssistError) -> String {
        let token = TrackingToken(consultation: consultation, agent: agent, department: department, item: item, issued: now)
        let signed = try token.signed(with: key)
        sent(token)
        return signed
    }

    /// Records a report by the rules above; returns the outcome and, when counted, the event to store.
    @discardableResult
    public mutating func record(_ report: ConversionReport) throws(AssistError) -> (outcome: ConversionOutcome, event: ConversionEvent?) {
        try report.validate()
        var token: TrackingToken?
        if let text = report.token {
            do throws(AssistError) {
                token = try TrackingToken.verify(text, key: key)
            } catch {
                return (.rejected(.badToken), nil)
            }
            if let claimed = report.consultation, claimed != token?.consultation { return (.rejected(.consultationMismatch), nil) }
        }
        if let k = report.deduplicationKey, seen.contains(k) { return (.duplicate, nil) }
        let event = ConversionEvent(
            kind: report.kind, consultation: token?.consultation, agent: token?.agent, department: token?.department, item: token?.item,
            orderID: report.orderID, reportID: report.orderID == nil ? report.reportID : nil, amountMinor: report.amountMinor,
            currency: report.currency, at: report.at)
        if let k = event.deduplicationKey { seen.insert(k) }
        events.append(event)
        if let token { return (.attributed(consultation: token.consultation, agent: token.agent), event) }
        return (.unattributed, event)
    }

    /// The report over sends and events in `[from, to)` (either end open when `nil`).
    public func summary(from: Date? = nil, to: Date? = nil) -> ConversionSummary {
        Self.summarize(sends: sends, events: events, from: from, to: to)
    }

    /// The report over `sends` and `events` in `[from, to)` (``ConversionStats`` for the definitions).
    public static func summarize(sends: [TrackingToken], events: [ConversionEvent], from: Date? = nil, to: Date? = nil) -> ConversionSummary {
        func inWindow(_ d: Date) -> Bool { (from.map { d >= $0 } ?? true) && (to.map { d < $0 } ?? true) }

        struct Group {
            var stats = ConversionStats()
            var consultations = Set<String>()
            var converted = Set<String>()
        }
        var total = Group()
        var byConsultation: [String: Group] = [:]
        var byAgent: [String: Group] = [:]
        var byDepartment: [String: Group] = [:]
        func each(_ consultation: String, _ agent: String, _ department: String?, _ change: (inout Group) -> Void) {
            change(&total)
            change(&byConsultation[consultation, default: Group()])
            change(&byAgent[agent, default: Group()])
            if let department { change(&byDepartment[department, default: Group()]) }
        }

        for s in sends where inWindow(s.issued) {
            each(s.consultation, s.agent, s.department) { g in
                g.consultations.insert(s.consultation)
                switch s.item {
                case .productCard: g.stats.productCardsSent += 1
                case .coupon: g.stats.couponsSent += 1
                }
            }
        }
        var summary = ConversionSummary()
        for e in events where inWindow(e.at) {
            guard let consultation = e.consultation, let agent = e.agent else {
                switch e.kind {
                case .click: summary.unattributedClicks += 1
                case .addToCart: summary.unattributedAddToCarts += 1
                case .order:
                    summary.unattributedOrders += 1
                    if let c = e.currency { summary.unattributedRevenueMinor[c] = ShopperProfile.saturatingSum(summary.unattributedRevenueMinor[c] ?? 0, e.amountMinor) }
                }
                continue
            }
            each(consultation, agent, e.department) { g in
                g.consultations.insert(consultation)
                switch e.kind {
                case .click: g.stats.clicks += 1
                case .addToCart: g.stats.addToCarts += 1
                case .order:
                    g.stats.orders += 1
                    g.converted.insert(consultation)
                    if let c = e.currency { g.stats.revenueMinor[c] = ShopperProfile.saturatingSum(g.stats.revenueMinor[c] ?? 0, e.amountMinor) }
                }
            }
        }
        func finish(_ g: Group) -> ConversionStats {
            var s = g.stats
            s.consultations = g.consultations.count
            s.convertedConsultations = g.converted.count
            return s
        }
        summary.total = finish(total)
        summary.byConsultation = byConsultation.mapValues(finish)
        summary.byAgent = byAgent.mapValues(finish)
        summary.byDepartment = byDepartment.mapValues(finish)
        return summary
    }
}
