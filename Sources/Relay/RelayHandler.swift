import NIOCore
import MediaPipeline
import MediaWire

extension MediaTime {
    /// The event loop's monotonic clock, for state that the relay owns.
    static var now: MediaTime { MediaTime(microseconds: Int64(NIODeadline.now().uptimeNanoseconds / 1_000)) }
}

/// Reads datagrams, hands them to ``RelayState``, writes what it returns through ``MediaOutput``
/// in one flush (NIO sends a flushed batch with `sendmmsg`), and drives the timers.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let state: NIOLoopBound<RelayState>
    private let output: MediaOutput
    private var timer: RepeatedTask?
    /// The read burst under way: its flush and its busy time (``LoopLoad``).
    private var burst = ReadBurst()
    /// Source addresses already converted, so that a packet costs a hash lookup, not an allocation.
    private var addresses: [SocketAddress: PeerAddress] = [:]

    /// Whether this socket's handler runs the worker's 20 ms timer (one socket per worker does;
    /// a worker with an IPv4 and an IPv6 socket has two handlers).
    private let drivesTimer: Bool

    init(state: NIOLoopBound<RelayState>, output: MediaOutput, drivesTimer: Bool = true) {
        self.state = state
        self.output = output
        self.drivesTimer = drivesTimer
    }

    func channelActive(context: ChannelHandlerContext) {
        output.attach(udp: context.channel)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard drivesTimer else { return }
        let state = self.state, output = self.output
        let lastTick = NIOLoopBoundBox(MediaTime?.none, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
            let now = MediaTime.now
            // How late this tick runs: the loop's lag (a repeated task is scheduled `delay` after
            // the previous one ran, so anything beyond the interval is time the loop was busy).
            let lag = lastTick.value.map { max(.zero, now - $0 - RelayState.tickInterval) } ?? .zero
            lastTick.value = now
            let out = state.value.tick(now: now, lag: lag)
            if !out.isEmpty {
                output.write(out)
                output.flush()
            }
            state.value.loopLoad.worked(MediaTime.now - now)
        }

    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        burst.read()
        let envelope = unwrapInboundIn(data)
        let address: PeerAddress
        if let known = addresses[envelope.remoteAddress] {
            address = known
        } else {
            guard let converted = PeerAddress(envelope.remoteAddress) else { return }
            if addresses.count > 10_000 { addresses.removeAll() }
            addresses[envelope.remoteAddress] = converted
            address = converted
        }
        var buffer = envelope.data
        let out = state.value.receive(&buffer, from: address, socket: envelope.remoteAddress, now: .now)
        output.write(out)
        burst.queued(out.count)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        burst.end(state: state.value, output: output)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP error (ICMP unreachable from a peer that left) must not close the shared socket.
    }
}

extension PeerAddress {
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let a):
            let raw = a.address.sin_addr.s_addr.bigEndian
            self.init(ip: [UInt8(raw >> 24), UInt8(raw >> 16 & 0xFF), UInt8(raw >> 8 & 0xFF), UInt8(raw & 0xFF)], port: UInt16(address.port ?? 0))
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            self.init(ip: bytes, port: UInt16(address.port ?? 0))
        default:
            return nil
        }
    }

    var socketAddress: SocketAddress? {
        if ip.count == 4 {
            return try? SocketAddress(ipAddress: ip.map(String.init).joined(separator: "."), port: Int(port))
        }
        guard ip.count == 16 else { return nil }
        var parts: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { parts.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16)) }
        return try? SocketAddress(ipAddress: parts.joined(separator: ":"), port: Int(port))
    }
}
