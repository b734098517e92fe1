import NIOCore

/// What the relay takes at once, and what one identity, room or session may hold of it: every
/// token holder may be an attacker, so none of them gets more than its share. Past a limit the
/// relay refuses with the reason — ``RelayError/Code/overQuota`` (HTTP 429) when an identity has
/// used its own share, ``RelayError/Code/atCapacity`` (503) when the room or the server is full —
/// and datagrams past a session's SSRC limit are dropped and counted (`ssrc-quota`).
public struct RelayLimits: Sendable, Equatable {
    /// Sessions on the relay, publishing and watching. An idle session holds its ICE, DTLS and
    /// SRTP state and two outgoing slots (measured in docs/benchmarks.md "Memory per session");
    /// one core forwards one 600 kbit/s stream to ~700 viewers.
    public var sessions = 2_000
    /// Sessions in one room: a broadcast's viewers, or both sides of a call and their renditions.
    public var sessionsPerRoom = 1_000
    /// Sessions one identity (a token's subject) holds at once, over all rooms: a call takes two
    /// (publish and watch) per side; the rest leaves room for reconnects before the old sessions
    /// time out.
    public var sessionsPerIdentity = 8
    /// New sessions one identity may open per minute, in bursts of ``sessionOpenBurst``: opening
    /// a session costs the relay's loop (an answer, a DTLS endpoint) even when it is ended at once,
    /// so an identity cannot open and end sessions in a loop. A page load opens one or two.
    public var sessionOpensPerMinute = 30
    public var sessionOpenBurst = 10
    /// Renditions (transcoding branches) at once. They share one codec thread: on this project's
    /// reference machine a `low` branch costs ~7% of a core (measured: 14.5 per core) and a
    /// `medium` one an estimated ~12% (640×360 decode + encode, 1.95 + 1.85 ms per frame at
    /// 30 fps), so 8 fit with room; past this a viewer is not moved to a new rendition and a
    /// request for one is refused — queueing more work than the thread can do would only grow
    /// its backlog and memory.
    public var renditions = 8
    /// Renditions one room may run: its viewers cannot take the whole codec thread by reporting
    /// loss (adaptation moves them down) and starve other rooms.
    public var renditionsPerRoom = 2
    /// SSRCs one session may send with (audio, video, their retransmission and FEC streams, its
    /// RTCP sender): each new one costs an SRTP stream context; datagrams with others are dropped
    /// before decryption.
    public var ssrcsPerSession = 8
    /// Sessions on a room's home worker (opens under way included) from which on the room's new
    /// subscribers go to the least loaded worker, through a pipe (``RelayDirectory``'s spreading
    /// rule). One core forwards one
    /// 600 kbit/s stream to ~500 viewers within a few milliseconds' added latency
    /// (docs/benchmarks.md); a worker busier than this gets new viewers only when every other is
    /// as busy. Has no effect with one media thread.
    public var spreadAbove = 250
    /// ICE-TCP connections (RFC 6544) one media worker holds at once: one per peer that reached it
    /// over TCP. Each holds a socket, at most one read plus one frame of input and
    /// ``tcpSendBuffer`` of output.
    public var tcpConnectionsPerWorker = 2_000
    /// ICE-TCP connections from one remote IPv4 address or IPv6 /64 at once, per worker: room for an office's
    /// shoppers behind one NAT, not for one attacker to take every slot.
    public var tcpConnectionsPerAddress = 64
    /// An ICE-TCP connection that carries no session's media this long after it opened (its
    /// session ended, or its peer uses another pair) is closed.
    public var tcpBindDeadline = TimeAmount.seconds(10)
    /// An ICE-TCP connection whose peer has not sent an authenticated ICE check this long after it
    /// opened is closed (a browser sends one at once); while a worker is full, such connections are
    /// the ones evicted, oldest first, to take a new one.
    public var tcpAuthenticateDeadline = TimeAmount.seconds(3)
    /// Bytes an ICE-TCP connection may hold unsent (its high-water mark); past it, packets to it
    /// are dropped (`tcp-backpressure`) as a full UDP path would lose them. The kernel's send
    /// buffer is set to the same (`SO_SNDBUF`; Linux doubles it for its bookkeeping), so a
    /// connection holds at most about three times this much output in all, and a slow reader
    /// meets the drops before seconds of media queue up for it.
    public var tcpSendBuffer = 256 * 1_024
    /// A connection over its high-water mark this long (a peer that stopped reading) is closed.
    public var tcpStallDeadline = TimeAmount.seconds(5)

    public init() {}
}
