/// How one HTTP attempt ended, as the server's sender reports it to ``WebhookOutbox/complete(_:result:now:)``.
public enum WebhookAttemptResult: Sendable, Hashable {
    /// The endpoint answered with this HTTP status: 2xx is delivered, anything else failed.
    case status(Int)
    /// No answer: connection refused, TLS failure, timeout (the text goes into the log).
    case transportError(String)

    public var isSuccess: Bool {
        if case .status(let s) = self { return (200..<300).contains(s) }
        return false
    }
}
