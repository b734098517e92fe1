import NIOCore
import MediaPipeline

/// One peer's ICE-TCP connection to a media worker ([RFC 6544](https://www.rfc-editor.org/rfc/rfc6544)):
/// the worker answers as a passive TCP host candidate on its UDP port's number, the peer (a
/// browser on a network that blocks UDP) connects, and every RFC 4571 frame it sends is a
/// datagram to ``RelayState`` from this connection's address — STUN, DTLS, SRTP and SRTCP share
/// everything above the transport with UDP, and so do the session quotas. Frames back go through
/// ``MediaOutput``, which drops them (as a full UDP path would) while more than the send buffer's
/// high-water mark waits unsent.
final class ICETCPConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: NIOLoopBound<RelayState>
    private let output: MediaOutput
    private var context: ChannelHandlerContext?
    private var address: PeerAddress?
    let opened: NIODeadline
    /// Whether one of the peer's ICE checks was authenticated (answered) on this connection.
    /// Until then only STUN binding requests are taken: the first frame that is not one, or that
    /// is not answered, ends the connection.
    private(set) var authenticated = false
    /// Since when the socket holds more than its high-water mark unsent (nil: writable).
    private(set) var unwritableSince: NIODeadline?
    /// Written to since the last flush (``MediaOutput`` keeps the list).
    var pendingFlush = false
    private var burst = ReadBurst()

    init(state: NIOLoopBound<RelayState>, output: MediaOutput, now: NIODeadline = .now()) {
        self.state = state
        self.output = output
        opened = now
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let remote = context.remoteAddress, let udpForm = PeerAddress(remote) else {
            context.close(promise: nil)
            return
        }
        let address = PeerAddress(ip: udpForm.ip, port: udpForm.port, transport: .tcp)
        if let refusal = output.admit(self, address: address) {
            state.value.drops.count(refusal)
            context.close(promise: nil)
            return
        }
        self.context = context
        self.address = address
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let address {
            output.remove(self, address: address)
            state.value.transportClosed(at: address)
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // `self.context` is set on admission and cleared by a refusal or the close: the decoder
        // still hands over frames that came in the same read, and none of them is handled.
        guard self.context != nil, let address else { return }
        burst.read()
        var frame = unwrapInboundIn(data)
        // No peer's packet is shorter than an RTP header (STUN 20, DTLS 13, SRTCP 22 bytes): a
        // stream of tiny frames is only a way to make the worker busy.
        guard frame.readableBytes >= Self.shortestPacket else { return refuse("tcp-runt-frame", context: context) }
        if !authenticated {
            let isSTUN = frame.getInteger(at: frame.readerIndex, as: UInt8.self).map { $0 <= 3 } ?? false
            guard isSTUN, frame.readableBytes >= Self.stunHeader else { return refuse("tcp-unauthenticated-frame", context: context) }
        }
        let out = state.value.receive(&frame, from: address, socket: nil, now: .now)
        if !authenticated {
            // A binding request is answered only once authenticated (ICELiteAgent).
            guard !out.isEmpty else { return refuse("tcp-unauthenticated", context: context) }
            authenticated = true
        }
        output.write(out)
        burst.queued(out.count)
    }

    /// The shortest packet a peer sends: an RTP header.
    static let shortestPacket = 12
    /// A STUN message's header ([RFC 8489 §5](https://www.rfc-editor.org/rfc/rfc8489#section-5)).
    static let stunHeader = 20

    private func refuse(_ reason: String, context: ChannelHandlerContext) {
        state.value.drops.count(reason)
        self.context = nil
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        burst.end(state: state.value, output: output)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : (unwritableSince ?? .now())
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A frame longer than a datagram (not a peer), a reset: the connection ends; its session,
        // if any, goes on until its consent lapses or the peer nominates another pair.
        if error is RFC4571FrameDecoder.FrameTooLarge { state.value.drops.count("tcp-oversize-frame") }
        context.close(promise: nil)
    }

    /// Queues one packet, framed; false (nothing queued) while the socket is over its high-water
    /// mark, or for a packet too long to frame (none of the relay's are).
    func send(_ packet: ByteBuffer) -> Bool {
        guard let context, context.channel.isWritable,
            let framed = RFC4571FrameDecoder.frame(packet, allocator: context.channel.allocator)
        else { return false }
        context.write(wrapOutboundOut(framed), promise: nil)
        return true
    }

    func flush() { context?.flush() }

    func close() { context?.close(promise: nil) }
}
