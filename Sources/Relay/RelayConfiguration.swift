import CoreMetrics

/// Where the media plane listens and what it announces.
public struct RelayConfiguration: Sendable {
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
    /// The addresses put in SDP candidates, at most one IPv4 and one IPv6 (`--announce-ip`, given
    /// once or twice), the first preferred; never found by enumerating interfaces. Each worker
    /// binds its sockets (UDP, and TCP for ICE-TCP) once per address, at ``bindHost(for:)``.
    public var announceIPs = ["127.0.0.1"]

    /// Where the sockets for an announced address bind: the address itself when it is loopback
    /// (127.0.0.1, ::1: nothing is exposed unless asked), else its family's wildcard (0.0.0.0, ::)
    /// — the announced address may be a public one in front of this host (1:1 NAT).
    public static func bindHost(for announced: String) -> String {
        if announced == "127.0.0.1" || announced == "::1" { return announced }
        return announced.contains(":") ? "::" : "0.0.0.0"
    }

    /// Why `announceIPs` cannot be used, or nil: empty, not IP addresses, or two of one family.
    public var announceProblem: String? {
        guard !announceIPs.isEmpty else { return "no address to announce" }
        guard announceIPs.count <= 2 else { return "at most two announce addresses (one IPv4, one IPv6)" }
        for ip in announceIPs {
            let v4 = ip.split(separator: ".", omittingEmptySubsequences: false)
            let isV4 = v4.count == 4 && v4.allSatisfy { UInt8($0) != nil }
            let isV6 = ip.contains(":") && ip.allSatisfy { $0.isHexDigit || $0 == ":" } && ip.count <= 39
            guard isV4 || isV6 else { return "announce IP \(ip) is not an IPv4 or IPv6 address" }
        }
        if announceIPs.count == 2, announceIPs[0].contains(":") == announceIPs[1].contains(":") {
            return "announce IPs \(announceIPs[0]) and \(announceIPs[1]) are of one family: give one IPv4 and one IPv6"
        }
        return nil
    }
    /// Quotas: sessions per relay, room and identity; renditions per relay and room; SSRCs per session.
    public var limits = RelayLimits()
    /// Where the relay's timers go (per-stage transcoding latency); none by default.
    public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance

    public init() {}
}
