import Foundation

/// One thing that happened to a consultation, as stored: the desk's log, from which reports are
/// derived and a restart is rebuilt.
public struct ConsultationEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The status moved (`from` → `to`).
        case status
        /// The assignee changed (accepted, picked, transferred; `agent` is the new one).
        case assigned
        /// The first reply of the bot, or of an agent.
        case firstBotReply = "first_bot_reply"
        case firstAgentReply = "first_agent_reply"
        /// The shopper rated it (`detail` is the score).
        case rated
        /// A note for the next agent (a transfer's).
        case note
    }

    /// Order of events across the whole desk (1, 2, 3 …; assigned by the store).
    public var seq: Int64
    public var consultation: String
    public var at: Date
    public var kind: Kind
    public var from: ConsultationStatus?
    public var to: ConsultationStatus?
    public var agent: String?
    public var detail: String?

    public init(
        seq: Int64 = 0, consultation: String, at: Date, kind: Kind, from: ConsultationStatus? = nil, to: ConsultationStatus? = nil,
        agent: String? = nil, detail: String? = nil
    ) {
        self.seq = seq
        self.consultation = consultation
        self.at = at
        self.kind = kind
        self.from = from
        self.to = to
        self.agent = agent
        self.detail = detail
    }
}
