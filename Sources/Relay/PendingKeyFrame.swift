import MediaPipeline

/// A key frame a subscriber asked for — a PLI or FIR it sent
/// ([RFC 4585 §6.3.1](https://www.rfc-editor.org/rfc/rfc4585#section-6.3.1),
/// [RFC 5104 §4.3.1](https://www.rfc-editor.org/rfc/rfc5104#section-4.3.1)) — and has not been
/// sent yet. The request is kept until the stream it gets starts a key frame: passed on to the
/// publisher when nothing of the kind is on its way already (``Publication/passOnKeyFrameRequest(of:now:)``),
/// asked again if none comes — a receiver such as aiortc asks once and then waits, so a request
/// the publication's throttle held back used to be lost — and at most once per ``interval``
/// whatever the subscriber sends: one viewer cannot make the publisher key every layer for every
/// other viewer more often than that. I/O-free.
struct PendingKeyFrame: Sendable {
    /// Since when it has waited; nil when nothing is asked for.
    private(set) var since: MediaTime?
    /// When this subscriber's request was last passed on (or found served by one on its way).
    private(set) var passedOn: MediaTime?

    /// The shortest time between two requests passed on for one subscriber, and how long one is
    /// waited for before it is asked again.
    static let interval = MediaTime(microseconds: 1_000_000)

    var isPending: Bool { since != nil }

    /// It asked (again): a request already waiting stays as it is.
    mutating func ask(now: MediaTime) {
        if since == nil { since = now }
    }

    /// Whether its request may go to the publisher now: one waits, and none of its own went
    /// within ``interval``.
    func mayPassOn(now: MediaTime) -> Bool {
        guard since != nil else { return false }
        return passedOn.map { now - $0 >= Self.interval } ?? true
    }

    /// Its request went to the publisher at `at` (or one asked for at `at` serves it).
    mutating func passed(at: MediaTime) { passedOn = at }

    /// The stream it gets started a key frame: nothing is asked for any more.
    mutating func received() { since = nil }
}
