import NIOCore

/// Where a media worker's outgoing datagrams go: to a peer on the worker's UDP socket, or to the
/// ICE-TCP connection (``ICETCPConnection``) a peer reached it on — one place that every sender on
/// the worker (reads, its timer, pipes from other workers, renditions' output) writes through, so
/// that ``RelayState`` stays free of sockets and never needs to know which transport a peer uses.
/// It also holds the worker's ICE-TCP connections and their quotas (``RelayLimits``).
///
/// Used on the worker's event loop only, like the state it serves (`@unchecked Sendable` so that
/// closures handed to the loop may carry it; every method asserts the loop in debug builds).
final class MediaOutput: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let limits: RelayLimits
    private let drops: DropCounter
    /// The worker's UDP sockets: IPv4 and, when an IPv6 address is announced, IPv6.
    private var udp4: (any Channel)?
    private var udp6: (any Channel)?
    private var pendingUDP = 0
    private var pendingUDP6 = 0
    private var connections: [PeerAddress: ICETCPConnection] = [:]
    /// Open connections per remote IPv4 address or IPv6 /64 (``quotaKey(_:)``).
    private var connectionsPerIP: [[UInt8]: Int] = [:]
    private var dirty: [ICETCPConnection] = []

    init(eventLoop: any EventLoop, limits: RelayLimits, drops: DropCounter) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.drops = drops
    }

    /// A UDP socket of the worker, once bound (its family from its local address).
    func attach(udp channel: any Channel) {
        if channel.localAddress?.protocol == .inet6 { udp6 = channel } else { udp4 = channel }
    }

    /// ICE-TCP connections open on this worker.
    var tcpConnectionCount: Int { connections.count }

    /// Queues `out` (nothing is sent before ``flush()``).
    func write(_ out: [OutgoingDatagram]) {
        eventLoop.assertInEventLoop()
        for o in out {
            if o.to.transport == .tcp {
                guard let connection = connections[o.to] else {
                    drops.count("tcp-no-connection")
                    continue
                }
                if connection.send(o.buffer) {
                    if !connection.pendingFlush {
                        connection.pendingFlush = true
                        dirty.append(connection)
                    }
                } else {
                    // Its socket holds more than `tcpSendBuffer` unsent: like a full UDP path, the
                    // packet is lost (NACK and key-frame requests recover), not queued without end.
                    drops.count("tcp-backpressure")
                }
            } else if let udp = o.to.ip.count == 16 ? udp6 : udp4, let envelope = o.envelope {
                udp.write(envelope, promise: nil)
                if o.to.ip.count == 16 { pendingUDP6 += 1 } else { pendingUDP += 1 }
            } else {
                drops.count("no-socket-for-family")
            }
        }
    }

    /// Sends what was queued: one flush of the UDP socket (`sendmmsg`) and one per ICE-TCP
    /// connection written to.
    func flush() {
        eventLoop.assertInEventLoop()
        if pendingUDP > 0, let udp4 {
            udp4.flush()
            pendingUDP = 0
        }
        if pendingUDP6 > 0, let udp6 {
            udp6.flush()
            pendingUDP6 = 0
        }
        for connection in dirty {
            connection.pendingFlush = false
            connection.flush()
        }
        dirty.removeAll(keepingCapacity: true)
    }

    /// Takes a new ICE-TCP connection, or says which quota refuses it.
    func admit(_ connection: ICETCPConnection, address: PeerAddress) -> String? {
        eventLoop.assertInEventLoop()
        if connections.count >= limits.tcpConnectionsPerWorker {
            // Full: the oldest connection that never authenticated makes room (one that opens and
            // says nothing cannot keep real peers out); with none, the new one is refused.
            guard let (oldestAddress, oldest) = connections.lazy.filter({ !$0.value.authenticated }).min(by: { $0.value.opened < $1.value.opened })
            else { return "tcp-connections" }
            drops.count("tcp-evicted-unauthenticated")
            remove(oldest, address: oldestAddress)
            oldest.close()
        }
        guard connectionsPerIP[Self.quotaKey(address), default: 0] < limits.tcpConnectionsPerAddress else { return "tcp-connections-per-address" }
        // One remote ip:port can reach two of the worker's local addresses; replacing the first
        // connection would leave it outside the quotas and the sweep, so the second is refused.
        guard connections[address] == nil else { return "tcp-duplicate-address" }
        connections[address] = connection
        connectionsPerIP[Self.quotaKey(address), default: 0] += 1
        return nil
    }

    /// What the per-address quota counts by: an IPv4 address, or an IPv6 address's /64 — one
    /// subscriber's network holds a whole /64 (RFC 6177), so counting single IPv6 addresses would
    /// give one attacker 2^64 quotas.
    static func quotaKey(_ address: PeerAddress) -> [UInt8] {
        address.ip.count == 16 ? Array(address.ip.prefix(8)) : address.ip
    }

    func remove(_ connection: ICETCPConnection, address: PeerAddress) {
        eventLoop.assertInEventLoop()
        guard connections[address] === connection else { return }
        connections[address] = nil
        let key = Self.quotaKey(address)
        if let n = connectionsPerIP[key], n > 1 { connectionsPerIP[key] = n - 1 } else { connectionsPerIP[key] = nil }
    }

    /// Once a second: closes ICE-TCP connections whose peer sent no authenticated check
    /// `tcpAuthenticateDeadline` after they opened, those that carry no session `tcpBindDeadline`
    /// after they opened (their session ended, or it uses another pair) and those whose peer has not
    /// taken what was sent for `tcpStallDeadline` (a reader that stopped).
    func sweep(state: RelayState, now: NIODeadline) {
        eventLoop.assertInEventLoop()
        for (address, connection) in connections {
            if !connection.authenticated, now - connection.opened > limits.tcpAuthenticateDeadline {
                drops.count("tcp-closed-unauthenticated")
                connection.close()
            } else if now - connection.opened > limits.tcpBindDeadline, !state.hasSession(at: address) {
                drops.count("tcp-closed-unbound")
                connection.close()
            } else if let since = connection.unwritableSince, now - since > limits.tcpStallDeadline {
                drops.count("tcp-closed-stalled")
                connection.close()
            }
        }
    }

    /// The once-a-second ``sweep(state:now:)``, cancelled by ``closeAll()``.
    var sweeper: RepeatedTask?

    /// Closes every ICE-TCP connection and stops the sweep (the relay stops).
    func closeAll() {
        sweeper?.cancel()
        sweeper = nil
        for connection in connections.values { connection.close() }
    }
}
