import Synchronization

/// Counts `/ws` connections against the server's and each identity's quota. A connection takes a
/// server slot when it opens and an identity slot at `hello`; it gives both back when it ends. The
/// per-identity table only holds identities with an open connection, so it is bounded by the
/// server's quota.
public final class Admission: Sendable {
    private let perServer: Int
    private let perIdentity: Int
    private let state = Mutex<(connections: Int, identities: [String: Int])>((0, [:]))

    public init(connectionsPerServer: Int, connectionsPerIdentity: Int) {
        perServer = connectionsPerServer
        perIdentity = connectionsPerIdentity
    }

    /// Takes a server slot; false (and nothing taken) when the server is full.
    public func openConnection() -> Bool {
        state.withLock { s in
            guard s.connections < perServer else { return false }
            s.connections += 1
            return true
        }
    }

    public func closeConnection() { state.withLock { $0.connections -= 1 } }

    /// Takes a slot for `identity`; false (and nothing taken) when it holds its quota.
    public func admit(identity: String) -> Bool {
        state.withLock { s in
            let n = s.identities[identity, default: 0]
            guard n < perIdentity else { return false }
            s.identities[identity] = n + 1
            return true
        }
    }

    public func release(identity: String) {
        state.withLock { s in
            let n = s.identities[identity, default: 0] - 1
            s.identities[identity] = n > 0 ? n : nil
        }
    }

    /// Connections open now, and identities holding at least one.
    public var counts: (connections: Int, identities: Int) { state.withLock { ($0.connections, $0.identities.count) } }
}
