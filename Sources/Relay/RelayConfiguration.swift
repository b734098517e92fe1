import CoreMetrics

/// Where the media plane listens and what it announces.
public struct RelayConfiguration: Sendable {
    /// Address the UDP sockets bind (127.0.0.1 unless peers on other hosts must reach it).
    public var bindHost = "127.0.0.1"
    /// UDP port of the first media worker; worker *i* listens on `mediaPort + i` (0: each picks a
    /// free port). Every SDP answer names the port of the worker that holds the session's room.
    public var mediaPort = 40_000
    /// Media workers: event loops, each with its own UDP socket and the sessions of the rooms
    /// placed on it (``RelayDirectory``). One forwards on one core; `showroom serve` runs one per
    /// core (`--media-threads`).
    public var mediaThreads = 1
    /// Listen for ICE-TCP (RFC 6544) on each worker's port number too, and offer a passive TCP
    /// host candidate beside the UDP one: peers on networks that block UDP still connect, and a
    /// peer that has both prefers UDP (its candidate's priority is higher).
    public var iceTCP = true
    /// The address put in the SDP candidate; never found by enumerating interfaces.
    public var announceIP = "127.0.0.1"
    /// Quotas: sessions per relay, room and identity; renditions per relay and room; SSRCs per session.
    public var limits = RelayLimits()
    /// Where the relay's timers go (per-stage transcoding latency); none by default.
    public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance

    public init() {}
}
