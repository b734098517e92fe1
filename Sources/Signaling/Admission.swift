import Synchronization

/// Counts `/ws` connections against the server's and each identity's quota.
///
/// A connection is **pending** from the upgrade until its `hello` is accepted, and pending
/// connections have a pool of their own (``SignalingLimits/pendingConnectionsPerServer``, at most
/// ``SignalingLimits/pendingConnectionsPerAddress`` from one non-loopback address): sockets that
/// never say `hello` cannot take the slots of token holders (found by the hardening review: four
/// silent sockets locked out a server of four). At `hello` the connection gives back its pending
/// slot and takes a server slot (``SignalingLimits/connectionsPerServer``) and one of its
/// identity's; it gives them back when it ends. Every table holds only keys with a slot taken, so
/// each is bounded by its pool.
public final class Admission: Sendable {
    /// Why a connection or a `hello` was refused.
    public enum Refusal: Sendable, Equatable {
        /// The server holds all the authenticated connections it takes.
        case serverFull
        /// Too many connections wait for their `hello` (on the server, or from this address).
        case pendingFull
        /// The identity holds its quota.
        case identityFull
    }

    private struct State {
        var connections = 0
        var pending = 0
        var pendingByAddress: [String: Int] = [:]
        var identities: [String: Int] = [:]
    }

    private let perServer: Int
    private let perIdentity: Int
    private let pendingPerServer: Int
    private let pendingPerAddress: Int
    private let state = Mutex(State())

    public init(connectionsPerServer: Int, connectionsPerIdentity: Int, pendingPerServer: Int = 1_000, pendingPerAddress: Int = 64) {
        perServer = connectionsPerServer
        perIdentity = connectionsPerIdentity
        self.pendingPerServer = pendingPerServer
        self.pendingPerAddress = pendingPerAddress
    }

    /// Loopback peers (the machine itself, or a reverse proxy on it, which limits its own clients)
    /// are not counted per address.
    static func isLoopback(_ address: String) -> Bool { address.hasPrefix("127.") || address == "::1" || address.isEmpty }

    /// Takes a pending slot for a new connection from `address`; refused when the server already
    /// holds all the authenticated connections it takes (nobody new could say `hello`), or the
    /// pending pool (the server's, or the address's share) is full.
    public func openConnection(from address: String = "") -> Refusal? {
        state.withLock { s in
            guard s.connections < perServer else { return .serverFull }
            guard s.pending < pendingPerServer else { return .pendingFull }
            if !Self.isLoopback(address) {
                let n = s.pendingByAddress[address, default: 0]
                guard n < pendingPerAddress else { return .pendingFull }
                s.pendingByAddress[address] = n + 1
            }
            s.pending += 1
            return nil
        }
    }

    /// Gives back the pending slot of a connection that ends without an accepted `hello`.
    public func closePending(from address: String = "") {
        state.withLock { Self.dropPending(&$0, address) }
    }

    private static func dropPending(_ s: inout State, _ address: String) {
        s.pending = max(0, s.pending - 1)
        guard !isLoopback(address), let n = s.pendingByAddress[address] else { return }
        s.pendingByAddress[address] = n > 1 ? n - 1 : nil
    }

    /// At `hello`: takes a server slot and one of `identity`'s, and (when `pendingFrom` is given)
    /// gives back that connection's pending slot. Refused (nothing taken or given back) when the
    /// server or the identity holds its quota.
    public func admit(identity: String, pendingFrom address: String? = nil) -> Refusal? {
        state.withLock { s in
            guard s.connections < perServer else { return .serverFull }
            let n = s.identities[identity, default: 0]
            guard n < perIdentity else { return .identityFull }
            s.identities[identity] = n + 1
            s.connections += 1
            if let address { Self.dropPending(&s, address) }
            return nil
        }
    }

    /// Gives back what ``admit(identity:pendingFrom:)`` took.
    public func release(identity: String) {
        state.withLock { s in
            let n = s.identities[identity, default: 0] - 1
            s.identities[identity] = n > 0 ? n : nil
            s.connections = max(0, s.connections - 1)
        }
    }

    /// Authenticated connections, identities holding at least one, and pending connections.
    public var counts: (connections: Int, identities: Int, pending: Int) {
        state.withLock { ($0.connections, $0.identities.count, $0.pending) }
    }
}
