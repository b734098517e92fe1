// One publisher → N viewers through the relay, with real ICE, DTLS and SRTP on every peer, over
// loopback UDP. The relay runs on one event-loop thread (one core); all peers run on this thread
// (the other core). Reports forwarded packets per second per relay core, and the latency the
// relay adds (publisher send → viewer receive, both on this machine's monotonic clock), next to
// the floor measured in the same run: a batched sendmmsg sender of 1200-byte datagrams to a
// loopback receiver, plus the SRTP protect cost.
//
//   swift run -c release RelayBenchmark [N ...]      (default: 1 50 500)
//   swift run -c release RelayBenchmark sessions [N]  (memory per idle session; default 2,000)
//   swift run -c release RelayBenchmark rooms R N [W ...]  (R rooms, N viewers in all, W media threads; default 2 500 1 2)
import Foundation
import Logging
import MediaCrypto
import MediaWire
import NIOCore
import NIOPosix
import Relay
import WebRTCClient

#if canImport(Glibc)
import Glibc
#endif

/// `struct mmsghdr` and `sendmmsg(2)`, which Glibc exports to Swift only under _GNU_SOURCE.
struct MMsgHdr {
    var msg_hdr = msghdr()
    var msg_len: UInt32 = 0
}
@_silgen_name("sendmmsg")
func c_sendmmsg(_ fd: Int32, _ vec: UnsafeMutablePointer<MMsgHdr>, _ count: UInt32, _ flags: Int32) -> Int32

/// epoll(7), which the Glibc module does not export; `struct epoll_event` is packed (12 bytes on
/// x86_64), so it is written by hand.
@_silgen_name("epoll_create1") func c_epoll_create1(_ flags: Int32) -> Int32
@_silgen_name("epoll_ctl") func c_epoll_ctl(_ epfd: Int32, _ op: Int32, _ fd: Int32, _ event: UnsafeMutableRawPointer) -> Int32
@_silgen_name("epoll_wait") func c_epoll_wait(_ epfd: Int32, _ events: UnsafeMutableRawPointer, _ max: Int32, _ timeout: Int32) -> Int32

final class Epoll {
    let fd = c_epoll_create1(0)
    let capacity = 256
    let events: UnsafeMutableRawPointer

    init() { events = .allocate(byteCount: 12 * capacity, alignment: 8) }
    deinit {
        events.deallocate()
        close(fd)
    }

    func add(_ socket: Int32, tag: UInt64) {
        var record = [UInt8](repeating: 0, count: 12)
        var ev: UInt32 = 1  // EPOLLIN
        var data = tag
        withUnsafeBytes(of: &ev) { record.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: &data) { record.replaceSubrange(4..<12, with: $0) }
        _ = record.withUnsafeMutableBytes { c_epoll_ctl(fd, 1, socket, $0.baseAddress!) }  // EPOLL_CTL_ADD
    }

    /// Tags of the ready sockets (no waiting).
    func ready() -> [UInt64] {
        let n = c_epoll_wait(fd, events, Int32(capacity), 0)
        guard n > 0 else { return [] }
        return (0..<Int(n)).map { i in
            var tag: UInt64 = 0
            withUnsafeMutableBytes(of: &tag) { $0.copyMemory(from: UnsafeRawBufferPointer(start: events + 12 * i + 4, count: 8)) }
            return tag
        }
    }
}

@_silgen_name("gettid")
func c_gettid() -> Int32

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time (user + system) of one thread, in seconds, from /proc.
func threadCPUSeconds(_ tid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the comm field: state is field 3; utime and stime are fields 14 and 15 (1-based).
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

final class UDPPeer: @unchecked Sendable {
    let fd: Int32
    var relay = sockaddr_in()

    init(relayPort: Int) {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        relay.sin_family = sa_family_t(AF_INET)
        relay.sin_port = UInt16(relayPort).bigEndian
        relay.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    func send(_ bytes: UnsafeRawBufferPointer) {
        _ = withUnsafePointer(to: &relay) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    func send(_ bytes: [UInt8]) { bytes.withUnsafeBytes { send($0) } }

    func receive(into buffer: inout [UInt8]) -> Int {
        buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Waits (bounded) for one datagram.
    func receive(timeoutMs: Int32) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 2_048)
        let n = receive(into: &buf)
        return n > 0 ? Array(buf.prefix(n)) : nil
    }
}

/// A client-side WebRTC peer from the load tool's client stack (`WebRTCClient`: the offer and the
/// I/O-free ICE + DTLS handshake), driven here on a blocking socket so that every peer shares this
/// one thread.
final class Peer {
    let udp: UDPPeer
    let certificate: DTLSCertificate
    let offer: ClientOffer
    var srtpIn: SRTPSession?
    var srtpOut: SRTPSession?

    init(relayPort: Int, publishing: Bool) throws {
        udp = UDPPeer(relayPort: relayPort)
        certificate = try DTLSCertificate()
        offer = ClientOffer(direction: publishing ? .send : .receive, fingerprint: certificate.fingerprint)
    }

    /// Runs the handshake to completion (bounded by its own timeouts).
    func connect(answer: String) throws {
        let parsed = try ServerAnswer(parsing: answer)
        // The answer names the port of the media worker that holds the room.
        udp.relay.sin_port = UInt16(parsed.port).bigEndian
        let handshake = try ClientHandshake(offer: offer, answer: parsed, certificate: certificate)
        func now() -> Int64 { Int64(monotonicNanos() / 1_000) }
        for d in handshake.start(now: now()) { udp.send(d) }
        while true {
            switch handshake.state {
            case .connected:
                let keys = handshake.keys!
                srtpOut = try SRTPSession(keys.local, direction: .outbound)
                srtpIn = try SRTPSession(keys.remote, direction: .inbound)
                return
            case .failed(let code):
                throw ClientError(code, "handshake")
            case .checking, .handshaking:
                if let d = udp.receive(timeoutMs: 10) {
                    for out in handshake.receive(d, now: now()) { udp.send(out) }
                }
                for out in handshake.tick(now: now()) { udp.send(out) }
            }
        }
    }
}

/// The floor: a batched sendmmsg sender of 1200-byte datagrams to a loopback receiver that a
/// second thread drains with recvmmsg. Returns packets per second of the sending thread.
func sendmmsgFloor(seconds: Double) -> Double {
    let receiver = UDPPeer(relayPort: 9)
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver.fd, $0, &len) } }
    let sender = UDPPeer(relayPort: Int(UInt16(bigEndian: addr.sin_port)))
    let flags = fcntl(sender.fd, F_GETFL)
    _ = fcntl(sender.fd, F_SETFL, flags & ~O_NONBLOCK)
    let done = Flag()
    let drain = Thread {
        var buf = [UInt8](repeating: 0, count: 2_048)
        while !done.isSet { _ = receiver.receive(into: &buf) }
    }
    drain.start()
    let batch = 32
    let payload = [UInt8](repeating: 0x80, count: 1_200)
    var sent = 0
    let start = monotonicNanos()
    payload.withUnsafeBytes { p in
        var iov = [iovec](repeating: iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: 1_200), count: batch)
        var headers = [MMsgHdr](repeating: MMsgHdr(), count: batch)
        withUnsafeMutablePointer(to: &sender.relay) { dst in
            iov.withUnsafeMutableBufferPointer { iovs in
                for i in 0..<batch {
                    headers[i].msg_hdr.msg_name = UnsafeMutableRawPointer(dst)
                    headers[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                    headers[i].msg_hdr.msg_iov = iovs.baseAddress! + i
                    headers[i].msg_hdr.msg_iovlen = 1
                }
                while Double(monotonicNanos() - start) / 1e9 < seconds {
                    let n = c_sendmmsg(sender.fd, &headers, UInt32(batch), 0)
                    if n > 0 { sent += Int(n) }
                }
            }
        }
    }
    let elapsed = Double(monotonicNanos() - start) / 1e9
    done.set()
    return Double(sent) / elapsed
}

/// A flag one thread sets and another polls.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// One publisher per room → `n` viewers in all (spread evenly over `rooms` rooms), each publisher
/// sending `rate` packets/s, through a relay with `workers` media threads. Relay CPU is the sum
/// over its worker threads. With `throughNode`, the viewers are on a second relay (another node
/// of a cluster, one media thread), which mirrors the publication through a node pipe
/// (``NodePipe``) from the publisher's: the first relay's CPU is then what the pipe costs it.
func run(
    viewers n: Int, packetsPerSecond rate: Int, seconds: Double, rooms: Int = 1, workers: Int = 1, throughNode: Bool = false
) async throws -> String {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: workers)
    var config = RelayConfiguration()
    config.mediaPort = 0
    config.mediaThreads = workers
    config.limits.sessions = n + rooms + 1
    config.limits.sessionsPerRoom = n + 1
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let origin = try await RelayServer.start(configuration: config, group: group, logger: logger)
    var tids: [Int32] = []
    for loop in group.makeIterator() { tids.append(try await loop.submit { c_gettid() }.get()) }
    // The other node: its own relay on a thread of its own.
    let edgeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var edgeConfig = config
    edgeConfig.mediaThreads = 1
    let edge = throughNode ? try await RelayServer.start(configuration: edgeConfig, group: edgeGroup, logger: logger) : nil
    var edgeTIDs: [Int32] = []
    if edge != nil { for loop in edgeGroup.makeIterator() { edgeTIDs.append(try await loop.submit { c_gettid() }.get()) } }
    let relay = edge ?? origin
    let secret = [UInt8](repeating: 7, count: 32)

    var publishers: [Peer] = []
    var viewers: [Peer] = []
    for r in 0..<rooms {
        let publisher = try Peer(relayPort: origin.port, publishing: true)
        let pubAnswer = try await origin.open(room: "bench-\(r)", publishing: true, offer: publisher.offer.sdp).answer
        try publisher.connect(answer: pubAnswer)
        publishers.append(publisher)
        let room = "bench-\(r)"
        let pipe = edge.map { _ in
            NodeOrigin(secret: secret) { token, port in
                try await origin.pipe(toNode: NodePipeRequest(room: room, source: nil, token: token, host: "127.0.0.1", port: port), secret: secret)
            }
        }
        for _ in 0..<(n / rooms + (r < n % rooms ? 1 : 0)) {
            let v = try Peer(relayPort: relay.port, publishing: false)
            let answer = try await relay.open(room: room, publishing: false, origin: pipe, offer: v.offer.sdp).answer
            try v.connect(answer: answer)
            viewers.append(v)
        }
    }

    // Each publisher sends `rate` packets/s of 1200 bytes carrying their send time, in turn;
    // viewers poll between sends.
    var latencies: [Double] = []
    latencies.reserveCapacity(Int(Double(rate * n) * seconds))
    var packet = [UInt8](repeating: 0xAB, count: 1_200 + SRTPSession.maxTrailer)
    var recvBuffer = [UInt8](repeating: 0, count: 2_048)
    // epoll: one wait for all viewer sockets, whatever their number.
    let epoll = Epoll()
    for (i, v) in viewers.enumerated() { epoll.add(v.udp.fd, tag: UInt64(i)) }
    let cpuBefore = tids.map(threadCPUSeconds), edgeBefore = edgeTIDs.map(threadCPUSeconds)
    let start = monotonicNanos()
    let interval = UInt64(1_000_000_000 / (rate * rooms))
    var next = start
    var seq: UInt16 = 0
    var turn = 0
    var sent = 0, received = 0
    while monotonicNanos() - start < UInt64(seconds * 1e9) {
        let now = monotonicNanos()
        if now >= next {
            next += interval
            let publisher = publishers[turn % rooms]
            if turn % rooms == 0 { seq &+= 1 }
            turn += 1
            let header = RTPPacket(
                header: RTPHeader(payloadType: ClientOffer.videoPayloadType, sequenceNumber: seq, timestamp: UInt32(seq) &* 3_000, ssrc: publisher.offer.videoSSRC),
                payload: []
            ).serialized()
            packet.replaceSubrange(0..<12, with: header)
            var t = monotonicNanos().bigEndian
            withUnsafeBytes(of: &t) { packet.replaceSubrange(12..<20, with: $0) }
            let length = try packet.withUnsafeMutableBytes { try publisher.srtpOut!.protectRTP($0, length: 1_200) }
            packet.withUnsafeBytes { publisher.udp.send(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            sent += 1
        }
        // Drain whatever arrived.
        do {
            for tag in epoll.ready() {
                let i = Int(tag)
                while true {
                    let got = viewers[i].udp.receive(into: &recvBuffer)
                    if got <= 0 { break }
                    let arrival = monotonicNanos()
                    guard let plain = try? recvBuffer.withUnsafeMutableBytes({ try viewers[i].srtpIn!.unprotectRTP($0, length: got) }),
                        plain >= 20, recvBuffer[1] & 0x7F == ClientOffer.videoPayloadType
                    else { continue }
                    var t: UInt64 = 0
                    withUnsafeMutableBytes(of: &t) { $0.copyBytes(from: recvBuffer[12..<20]) }
                    latencies.append(Double(arrival - UInt64(bigEndian: t)) / 1_000)
                    received += 1
                }
            }
        }
    }
    let elapsed = Double(monotonicNanos() - start) / 1e9
    let cpuPerThread = zip(tids.map(threadCPUSeconds), cpuBefore).map { $0 - $1 }
    let cpu = cpuPerThread.reduce(0, +)
    let edgeCPU = zip(edgeTIDs.map(threadCPUSeconds), edgeBefore).map { $0 - $1 }.reduce(0, +)
    await origin.stop()
    try await group.shutdownGracefully()
    if let edge { await edge.stop() }
    try await edgeGroup.shutdownGracefully()
    latencies.sort()
    let forwarded = Double(received) / elapsed
    let perCore = cpu > 0 ? Double(received) / cpu : 0
    let busy = cpuPerThread.map { String(format: "%.0f%%", $0 / elapsed * 100) }.joined(separator: "+")
    if edge != nil {
        return String(
            format: "N=%d on another node  sent %d pkt/s  forwarded %.0f pkt/s  publisher's node busy %@ (%.1f µs of its CPU per packet it piped, ticks included)  other node busy %.0f%%  delivered %.1f%%  added latency p50 %.0f µs p99 %.0f µs",
            n, rate * rooms, forwarded, busy, cpu / Double(max(sent, 1)) * 1e6, edgeCPU / elapsed * 100,
            Double(received) / Double(max(sent * n / rooms, 1)) * 100, percentile(latencies, 0.5), percentile(latencies, 0.99))
    }
    return String(
        format: "N=%d rooms=%d workers=%d  sent %d pkt/s  forwarded %.0f pkt/s  relay busy %@  => %.0f pkt/s per relay core  delivered %.1f%%  added latency p50 %.0f µs p99 %.0f µs",
        n, rooms, workers, rate * rooms, forwarded, busy, perCore, Double(received) / Double(max(sent * n / rooms, 1)) * 100,
        percentile(latencies, 0.5), percentile(latencies, 0.99))
}

/// Resident memory of this process (Linux).
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// What an idle session costs the relay: `n` viewer sessions opened (ICE, DTLS endpoint, SRTP
/// state to be, outgoing slots), resident memory before and after.
func sessionMemory(_ n: Int) async throws -> String {
    var config = RelayConfiguration()
    config.mediaPort = 0
    config.limits.sessions = n + 1
    config.limits.sessionsPerRoom = n + 1
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let relay = try await RelayServer.start(configuration: config, logger: logger)
    let cert = try DTLSCertificate()
    _ = try await relay.open(room: "m", publishing: true, offer: ClientOffer(direction: .send, fingerprint: cert.fingerprint).sdp)
    let offers = (0..<n).map { _ in ClientOffer(direction: .receive, fingerprint: cert.fingerprint).sdp }
    let before = residentBytes()
    for (i, offer) in offers.enumerated() { _ = try await relay.open(room: "m", identity: "v\(i)", publishing: false, offer: offer) }
    let after = residentBytes()
    await relay.stop()
    return String(format: "sessions: %d idle viewer sessions, %.1f KiB resident each", n, Double(after - before) / Double(n) / 1_024)
}

// RelayBenchmark rooms R N [W ...]: R rooms of N viewers in all, with W media threads (default 1 2).
if CommandLine.arguments.dropFirst().first == "rooms" {
    let numbers = CommandLine.arguments.dropFirst(2).compactMap { Int($0) }
    let rooms = numbers.first ?? 2, n = numbers.dropFirst().first ?? 500
    let workers = numbers.count > 2 ? Array(numbers.dropFirst(2)) : [1, 2]
    for w in workers {
        print(try await run(viewers: n, packetsPerSecond: max(100, 60_000 / n), seconds: 5, rooms: rooms, workers: w))
    }
    exit(0)
}

// RelayBenchmark nodes N: one publisher → N viewers on its own relay, then the same N viewers on a
// second relay (another node) fed by one node pipe: what the pipe costs the publisher's node.
if CommandLine.arguments.dropFirst().first == "nodes" {
    let n = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 500
    let rate = max(100, 60_000 / n)
    print(try await run(viewers: n, packetsPerSecond: rate, seconds: 5))
    print(try await run(viewers: n, packetsPerSecond: rate, seconds: 5, throughNode: true))
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "sessions" {
    print(try await sessionMemory(CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 2_000))
    exit(0)
}

let counts = CommandLine.arguments.dropFirst().compactMap { Int($0) }
print("floor: batched sendmmsg of 1200-byte datagrams to a loopback receiver…")
let floor = sendmmsgFloor(seconds: 2)
print(String(format: "floor: %.0f pkt/s on one core (%.2f µs per packet)", floor, 1e6 / floor))
for n in counts.isEmpty ? [1, 50, 500] : counts {
    // Keep the offered load within what one client core can also receive and decrypt.
    let rate = n == 1 ? 5_000 : max(100, 60_000 / n)
    print(try await run(viewers: n, packetsPerSecond: rate, seconds: 5))
}
