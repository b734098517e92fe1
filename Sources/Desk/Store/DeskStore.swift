import Foundation

/// Where the desk keeps what must survive a restart: consultations and their events, departments,
/// agents and the FAQ. Every call is synchronous and atomic; a status move is validated against
/// ``ConsultationStatus/canMove(to:)`` and stored with its event in one transaction, so the record
/// and the log never disagree. SQLite (``SQLiteDeskStore``) is the embedded default; a PostgreSQL
/// store will follow behind the same protocol.
public protocol DeskStore: Sendable {
    /// Stores a new consultation (status `bot`) and its first event.
    func create(_ consultation: Consultation) throws(DeskError)
    /// Moves a consultation to `status` and stores the event. Setting the milestone times that go
    /// with it (queued the first time, resolved, ended); `assignee` changes with `active` (an
    /// accept, a pick, a transfer) and is cleared by a move back to the queue. `conflict` if the
    /// state machine forbids the move (it moved on meanwhile).
    @discardableResult
    func move(_ id: String, to status: ConsultationStatus, assignee: String?, at: Date, detail: String?) throws(DeskError) -> Consultation
    /// Records the first reply of the bot or of an agent (once; later ones change nothing).
    func recordFirstReply(_ id: String, byAgent: Bool, at: Date) throws(DeskError)
    /// The shopper's 1–5 rating of a resolved consultation (once).
    func rate(_ id: String, score: Int, at: Date) throws(DeskError)
    func note(_ id: String, agent: String, text: String, at: Date) throws(DeskError)

    func consultation(_ id: String) throws(DeskError) -> Consultation?
    /// Every consultation not resolved or abandoned (a restart rebuilds the queue from these).
    func openConsultations() throws(DeskError) -> [Consultation]
    /// A shopper's consultations, newest first, at most `limit`.
    func consultations(shopper: String, limit: Int) throws(DeskError) -> [Consultation]
    /// Consultations created in `[from, to)`, for reports.
    func consultations(createdFrom from: Date, to: Date) throws(DeskError) -> [Consultation]
    /// A consultation's events in order.
    func events(of id: String) throws(DeskError) -> [ConsultationEvent]
    /// The `assigned` events of the consultations created in `[from, to)`, in order (for reports:
    /// when each was first taken, and by whom).
    func assignments(createdFrom from: Date, to: Date) throws(DeskError) -> [ConsultationEvent]

    func save(_ department: Department) throws(DeskError)
    func departments() throws(DeskError) -> [Department]
    func deleteDepartment(_ id: String) throws(DeskError)
    func save(_ agent: AgentProfile) throws(DeskError)
    func agents() throws(DeskError) -> [AgentProfile]
    func deleteAgent(_ id: String) throws(DeskError)
}

extension DeskError {
    /// `invalid_argument` if any of `values` — ids and names a store binds as columns — holds a NUL
    /// character, which every desk store refuses: PostgreSQL's text cannot hold it, and SQLite's
    /// bindings cut a string at it (`c1\u{0}x` would be `c1`: another consultation). Records are
    /// JSON, where it is escaped. Lookups with one find nothing.
    public static func refuseNUL(_ values: String?...) throws(DeskError) {
        if values.contains(where: { $0.map(holdsNUL) == true }) { throw DeskError(.invalidArgument, "a NUL character cannot be stored in an id or name") }
    }

    /// Whether `value` holds a NUL character (a lookup by it finds nothing).
    public static func holdsNUL(_ value: String) -> Bool { value.utf8.contains(0) }
}
