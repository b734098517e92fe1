import Relay
import ServiceLifecycle

/// Runs the media relay with the server, in the same `ServiceGroup`: bound before the HTTP server
/// starts (its port goes into every SDP answer), closed after the HTTP server has stopped — the
/// group stops services in the reverse of their order, so the relay is listed first.
public struct RelayLifecycle: Service {
    public let relay: RelayServer

    public init(relay: RelayServer) { self.relay = relay }

    public func run() async throws {
        // Nothing to drive: the relay's loop does its own work. It lives until the group shuts down.
        try? await gracefulShutdown()
        await relay.stop()
    }
}
