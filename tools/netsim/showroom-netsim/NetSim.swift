import ArgumentParser
import NetworkImpairment

#if canImport(Glibc)
import Glibc
#endif

/// A UDP relay between clients and one server that impairs both directions: clients send to
/// `--listen`, each client gets its own upstream socket towards `--forward` (so the server sees
/// one address per client and its replies find their way back).
@main
struct NetSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "showroom-netsim",
        abstract: "Userspace UDP impairment relay: delay, jitter, loss (random and bursty), reordering, duplication, bandwidth cap.",
        discussion: """
            Example: a phone on a poor network in front of a local server:
              showroom-netsim --listen 127.0.0.1:40100 --forward 127.0.0.1:40000 --delay 30 --jitter 10 --loss 2
            Point the client at 127.0.0.1:40100 (for Showroom: serve with --announce-ip and a candidate on that port,
            or use it in tests). Only loopback addresses are accepted.
            """)

    @Option(help: "Address:port clients send to.") var listen = "127.0.0.1:40100"
    @Option(help: "Address:port of the server.") var forward = "127.0.0.1:40000"
    @Option(help: "One-way delay in ms, each direction.") var delay: Double = 0
    @Option(help: "Jitter in ms (see --jitter-distribution).") var jitter: Double = 0
    @Option(help: "normal, uniform or exponential.") var jitterDistribution = "normal"
    @Option(help: "Random loss in percent.") var loss: Double = 0
    @Option(help: "Bursty loss (Gilbert-Elliott): chance in percent per packet of entering the bad state.") var burstEnter: Double = 0
    @Option(help: "Chance in percent per packet of leaving the bad state (mean burst = 100/this packets).") var burstExit: Double = 30
    @Option(help: "Reordering: percent of packets held back --reorder-delay ms.") var reorder: Double = 0
    @Option(help: "How long a reordered packet is held back, in ms.") var reorderDelay: Double = 20
    @Option(help: "Duplication in percent.") var duplicate: Double = 0
    @Option(help: "Bandwidth cap in kbit/s, each direction (0: none).") var rate: Double = 0
    @Option(help: "Queue behind the cap, in ms of backlog, before tail drop.") var queue: Double = 200
    @Option(help: "Cap changes while running: SECONDS=KBPS,… (0: none), e.g. 20=300,40=0 caps at 300 kbit/s from 20 s and lifts the cap at 40 s.")
    var rateSchedule = ""
    @Option(help: "Random seed, for repeatable runs.") var seed: UInt64 = 1
    @Option(help: "Stop after this many seconds (0: run until killed).") var duration: Double = 0

    func validate() throws {
        for (name, v) in [("loss", loss), ("reorder", reorder), ("duplicate", duplicate), ("burst-enter", burstEnter), ("burst-exit", burstExit)]
        where !(0...100).contains(v) { throw ValidationError("--\(name) is a percentage: 0–100") }
        guard ImpairmentProfile.JitterDistribution(rawValue: jitterDistribution) != nil else {
            throw ValidationError("--jitter-distribution must be normal, uniform or exponential")
        }
        guard rateChanges != nil else { throw ValidationError("--rate-schedule is SECONDS=KBPS pairs separated by commas") }
        for a in [listen, forward] where !(a.hasPrefix("127.") || a.hasPrefix("[::1]")) {
            throw ValidationError("\(a): only loopback addresses (127.0.0.0/8 or [::1]) are allowed")
        }
    }

    /// `--rate-schedule` read: when (seconds from start) the cap becomes what (kbit/s, 0: none).
    var rateChanges: [(seconds: Double, kilobits: Double)]? {
        var out: [(seconds: Double, kilobits: Double)] = []
        for item in rateSchedule.split(separator: ",") {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let t = Double(parts[0]), let r = Double(parts[1]), t >= 0, r >= 0, t.isFinite, r.isFinite else { return nil }
            out.append((t, r))
        }
        return out.sorted { $0.seconds < $1.seconds }
    }

    var profile: ImpairmentProfile {
        var p = ImpairmentProfile()
        p.delayMilliseconds = delay
        p.jitterMilliseconds = jitter
        p.jitterDistribution = ImpairmentProfile.JitterDistribution(rawValue: jitterDistribution) ?? .normal
        p.loss = loss / 100
        if burstEnter > 0 { p.burstLoss = .init(goodToBad: burstEnter / 100, badToGood: max(burstExit, 0.01) / 100) }
        p.reorder = reorder / 100
        p.reorderMilliseconds = reorderDelay
        p.duplicate = duplicate / 100
        p.rateKilobits = rate > 0 ? rate : nil
        p.queueMilliseconds = queue
        return p
    }

    func run() throws {
        guard let listenAddress = Endpoint(listen), let serverAddress = Endpoint(forward) else {
            throw ValidationError("addresses are IPv4 host:port")
        }
        let relay = try Relay(listen: listenAddress, server: serverAddress, profile: profile, seed: seed)
        relay.rateChanges = rateChanges ?? []
        print("showroom-netsim: \(listen) ⇄ \(forward)  delay \(delay) ms ± \(jitter) (\(jitterDistribution)), loss \(loss)%, burst \(burstEnter)/\(burstExit)%, reorder \(reorder)%, duplicate \(duplicate)%, rate \(rate > 0 ? "\(rate) kbit/s" : "unlimited")")
        try relay.run(seconds: duration)
        let up = relay.upstream.statistics, down = relay.downstream.statistics
        print("showroom-netsim: upstream \(up.packets) packets, \(up.delivered) delivered; downstream \(down.packets) packets, \(down.delivered) delivered")
    }
}

struct Endpoint: Hashable {
    var address: sockaddr_in

    init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        guard inet_pton(AF_INET, String(parts[0]), &a.sin_addr) == 1 else { return nil }
        address = a
    }

    init(_ a: sockaddr_in) { address = a }

    static func == (l: Endpoint, r: Endpoint) -> Bool {
        l.address.sin_addr.s_addr == r.address.sin_addr.s_addr && l.address.sin_port == r.address.sin_port
    }

    func hash(into h: inout Hasher) {
        h.combine(address.sin_addr.s_addr)
        h.combine(address.sin_port)
    }
}

func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}

func udpSocket(bindTo endpoint: Endpoint?) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw ValidationError("socket: \(errno)") }
    var a = endpoint?.address ?? {
        var any = sockaddr_in()
        any.sin_family = sa_family_t(AF_INET)
        any.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return any
    }()
    let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard r == 0 else { throw ValidationError("bind: errno \(errno)") }
    return fd
}

/// The relay's loop: poll the sockets until the next scheduled delivery, read, schedule, send.
final class Relay {
    struct Pending {
        var due: Int64
        var order: Int
        var bytes: [UInt8]
        var fd: Int32
        var to: Endpoint
    }

    let listenFD: Int32
    let server: Endpoint
    var upstream: Impairment
    var downstream: Impairment
    /// Client address → its socket towards the server, and back.
    var clients: [Endpoint: Int32] = [:]
    var clientOf: [Int32: Endpoint] = [:]
    var pending: [Pending] = []
    var order = 0
    /// Cap changes still to come, in order (seconds from the start of ``run(seconds:)``).
    var rateChanges: [(seconds: Double, kilobits: Double)] = []

    init(listen: Endpoint, server: Endpoint, profile: ImpairmentProfile, seed: UInt64) throws {
        listenFD = try udpSocket(bindTo: listen)
        self.server = server
        upstream = Impairment(profile: profile, seed: seed)
        downstream = Impairment(profile: profile, seed: seed &+ 0x5EED)
    }

    func run(seconds: Double) throws {
        let start = monotonicMicros()
        let end = seconds > 0 ? start + Int64(seconds * 1e6) : Int64.max
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while monotonicMicros() < end {
            let now = monotonicMicros()
            while let change = rateChanges.first, now - start >= Int64(change.seconds * 1e6) {
                rateChanges.removeFirst()
                upstream.setRate(kilobits: change.kilobits)
                downstream.setRate(kilobits: change.kilobits)
                print("showroom-netsim: at \(change.seconds) s the cap is \(change.kilobits > 0 ? "\(change.kilobits) kbit/s" : "lifted")")
            }
            let next = pending.map(\.due).min()
            let timeout = next.map { Int32(max(0, min(($0 - now) / 1_000, 100))) } ?? 100
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)] + clientOf.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), timeout) > 0 {
                for f in fds where f.revents & Int16(POLLIN) != 0 {
                    var from = sockaddr_in()
                    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
                    let n = buffer.withUnsafeMutableBytes { b in
                        withUnsafeMutablePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(f.fd, b.baseAddress, b.count, 0, $0, &len) } }
                    }
                    guard n > 0 else { continue }
                    let bytes = Array(buffer.prefix(n))
                    let t = monotonicMicros()
                    if f.fd == listenFD {
                        let client = Endpoint(from)
                        let fd = try clients[client] ?? {
                            let s = try udpSocket(bindTo: nil)
                            clients[client] = s
                            clientOf[s] = client
                            return s
                        }()
                        for due in upstream.process(size: n, now: t) { schedule(bytes, due: due, fd: fd, to: server) }
                    } else if let client = clientOf[f.fd] {
                        for due in downstream.process(size: n, now: t) { schedule(bytes, due: due, fd: listenFD, to: client) }
                    }
                }
            }
            // Send what is due, in due order.
            let t = monotonicMicros()
            let due = pending.filter { $0.due <= t }.sorted { ($0.due, $0.order) < ($1.due, $1.order) }
            pending.removeAll { $0.due <= t }
            for p in due {
                var to = p.to.address
                _ = p.bytes.withUnsafeBytes { b in
                    withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(p.fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                }
            }
        }
    }

    func schedule(_ bytes: [UInt8], due: Int64, fd: Int32, to: Endpoint) {
        order += 1
        pending.append(Pending(due: due, order: order, bytes: bytes, fd: fd, to: to))
    }
}
