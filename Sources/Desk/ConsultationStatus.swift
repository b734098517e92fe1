/// Where a consultation stands. Every move between these is one stored event
/// (``ConsultationEvent``); ``canMove(to:)`` is the whole state machine:
///
/// ```
///            ┌──────────────── resolved ◀──────────────────┐
///            │  (the bot answered)                          │
///   new ─▶ bot ──hand-off──▶ queued ──offer──▶ offered ──accept──▶ active ⇄ on_hold
///            │                 │  ▲  ◀──decline/timeout──┘          │  │
///            │                 │  └──── return / transfer to a department ──┘
///            │                 ├──pick (an agent takes it)────────────────▶ active
///            │                 └──max wait / closed──▶ missed ──pick──▶ active
///            └──shopper left──▶ abandoned ◀──shopper left── queued, offered
/// ```
/// `resolved` and `abandoned` are final; a transfer to another agent keeps `active` (the assignee
/// changes, an event says so).
public enum ConsultationStatus: String, Codable, Sendable, CaseIterable {
    case bot
    case queued
    case offered
    case active
    case onHold = "on_hold"
    case resolved
    case abandoned
    case missed

    /// Whether the desk may move a consultation from this status to `next`.
    public func canMove(to next: ConsultationStatus) -> Bool {
        switch (self, next) {
        case (.bot, .queued), (.bot, .resolved), (.bot, .abandoned): true
        case (.queued, .offered), (.queued, .active), (.queued, .missed), (.queued, .abandoned): true
        case (.offered, .active), (.offered, .queued), (.offered, .abandoned): true
        case (.active, .onHold), (.active, .queued), (.active, .resolved), (.active, .active): true
        case (.onHold, .active), (.onHold, .queued), (.onHold, .resolved): true
        case (.missed, .active), (.missed, .resolved): true
        default: false
        }
    }

    /// No move leaves it.
    public var isFinal: Bool { self == .resolved || self == .abandoned }

    /// Waiting for a person: counted in the queue's length and position.
    public var isWaiting: Bool { self == .queued || self == .offered }

    /// Taking one of its agent's capacity slots.
    public var holdsAnAgent: Bool { self == .active || self == .onHold }
}
