/// Every bound on what one `/ws` client can make the server hold or do, in one place. The
/// defaults are what a shop's server should run with; docs/protocol.md ("Limits") lists them and
/// says what a client sees past each one.
///
/// Memory, in writing: what the server queues for connections is at most
/// `connectionsPerServer × outboundBudget` (10,000 × 1 MiB by default) plus, per connection, what
/// SwiftNIO holds before its writer is suspended (64 KiB by default) and one `closing` frame.
public struct SignalingLimits: Sendable, Equatable {
    // MARK: One connection
    /// Messages a connection may send per second, and the burst above that rate.
    public var messagesPerSecond = 20.0
    public var messageBurst = 40.0
    /// Rate-limited and malformed messages tolerated before the connection is closed (`policy`).
    public var maximumViolations = 20
    public var maximumBadMessages = 10
    /// Bytes (encoded JSON) queued for one connection: answers and room traffic not yet written
    /// to its socket. A connection past it is closed with `slow_consumer` (it reconnects and
    /// resumes; nothing stored is lost). Large enough for a `joined` of a full room.
    public var outboundBudget = 1 << 20
    /// How long a connection the server closes gets to write what is queued and `closing`; then
    /// its socket is closed whether or not the peer reads (a writer blocked on TCP backpressure
    /// included).
    public var drainDeadline: Duration = .seconds(5)
    /// A `history` answer and each page of a resume backlog hold at most this many bytes of
    /// messages (always at least one message).
    public var pageBytes = 64 * 1_024
    /// Media sessions (publications and subscriptions) one connection may hold at once.
    public var mediaSessionsPerConnection = 4
    /// No `hello` within this, or nothing received for this long: closed with `timeout`.
    public var helloTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(30)

    // MARK: One identity (a token's subject), over all its connections
    /// Open `/ws` connections per identity (an agent's console holds one per consultation).
    public var connectionsPerIdentity = 16
    /// Chat `send`s per second per identity, and the burst: N connections do not multiply it.
    public var sendsPerSecondPerIdentity = 20.0
    public var sendBurstPerIdentity = 40.0
    /// Identities whose send rate is tracked at once; beyond, idle ones (a full bucket) and then
    /// the least recently seen are forgotten.
    public var trackedIdentities = 65_536
    /// A token whose identity is longer (UTF-8 bytes) is refused at `hello`: it is repeated in every
    /// message, presence and `joined`.
    public var maximumIdentityBytes = 128

    // MARK: One room
    /// Members of one room at once.
    public var membersPerRoom = 1_000
    /// Chat operations of one room waiting for the store (sends, joins, history, receipts); past it
    /// a request is refused with `storage` (retry) instead of queueing without bound behind a slow
    /// disk.
    public var pendingStoreOperationsPerRoom = 256
    /// `joined` carries the most advanced read receipts of the room, at most this many.
    public var readReceiptsInJoined = 100

    // MARK: The server
    /// Open `/ws` connections whose `hello` was accepted.
    public var connectionsPerServer = 10_000
    /// Connections waiting for their `hello` (at most ``helloTimeout`` each), on the server and
    /// from one address (loopback, such as a reverse proxy on this machine, is not counted per
    /// address): silent sockets have a pool of their own and cannot lock token holders out.
    public var pendingConnectionsPerServer = 1_000
    public var pendingConnectionsPerAddress = 64
    /// Threads that run the (blocking) chat store calls, off Swift's cooperative pool. A room uses
    /// one at a time, so a stalled room holds at most one.
    public var storeThreads = 4

    public init() {}
}
