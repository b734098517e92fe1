import NIOCore
import NIOEmbedded
import NIOWebSocket
@testable import ShowroomServer
import Signaling
import Testing

/// The `/ws` writer on a channel without a socket (`EmbeddedChannel`): batches, backpressure, the
/// Close gate and its own end.
@Suite struct OutboxChannelWriterTests {
    /// Holds the promises of the writes that reach it (the socket has not taken them yet) until the
    /// test completes them; passes the frames on only then.
    final class HeldWrites: ChannelOutboundHandler {
        typealias OutboundIn = WebSocketFrame
        var held: [(NIOAny, EventLoopPromise<Void>?)] = []
        var texts: [String] = []
        var flushes = 0

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            texts.append(String(buffer: unwrapOutboundIn(data).unmaskedData))
            held.append((data, promise))
        }

        func flush(context: ChannelHandlerContext) { flushes += 1 }

        /// The socket takes (or fails) everything held.
        func complete(failing: Bool = false) {
            let promises = held.compactMap(\.1)
            held = []
            for p in promises {
                if failing { p.fail(ChannelError.ioOnClosedChannel) } else { p.succeed() }
            }
        }
    }

    /// Whether `writer` ends within `limit`, the loop run meanwhile (a writer that never ends
    /// fails the test instead of hanging it).
    static func ends(_ writer: OutboxChannelWriter, on channel: EmbeddedChannel, within limit: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !writer.hasEnded && ContinuousClock.now < deadline {
            channel.embeddedEventLoop.run()
            try? await Task.sleep(for: .milliseconds(5))
        }
        return writer.hasEnded
    }

    /// Messages queued while the writer is idle go out in order, in one flush; a batch the socket
    /// has not taken holds the next (which waits in the outbox, counted) until it has.
    @Test func queuedMessagesGoInOneFlushAndAPendingBatchHoldsTheNext() async throws {
        let held = HeldWrites()
        let channel = EmbeddedChannel(handler: held)
        let outbox = Outbox(budget: 1_000)
        let writer = OutboxChannelWriter(outbox: outbox, channel: channel)
        writer.start()
        channel.embeddedEventLoop.run()
        for i in 0..<3 { outbox.deliver("m\(i)") }
        #expect(held.texts.isEmpty, "nothing written before the loop runs")
        channel.embeddedEventLoop.run()
        #expect(held.texts == ["m0", "m1", "m2"] && held.flushes == 1)
        outbox.deliver("m3")
        outbox.deliver("m4")
        channel.embeddedEventLoop.run()
        #expect(held.texts.count == 3, "a batch the socket has not taken holds the next")
        #expect(outbox.bytes == 10, "the pending batch and the waiting messages count in the budget")
        held.complete()
        #expect(held.texts == ["m0", "m1", "m2", "m3", "m4"] && held.flushes == 2)
        held.complete()
        #expect(outbox.bytes == 0, "taken by the socket: nothing counts any more")
        outbox.close(last: "bye")
        channel.embeddedEventLoop.run()
        held.complete()
        #expect(await Self.ends(writer, on: channel))
        #expect(held.texts.last == "bye" && outbox.bytes == 0)
        _ = try channel.finish()
    }

    /// A failed write (the socket is gone) drops what is queued and ends the writer; the writer is
    /// then released — the outbox let go of its wake-up (a cycle that leaked every connection).
    @Test func aFailedWriteEndsTheWriterAndNothingIsLeftHoldingIt() async throws {
        let held = HeldWrites()
        let channel = EmbeddedChannel(handler: held)
        let outbox = Outbox(budget: 1_000)
        weak var released: OutboxChannelWriter?
        do {
            let writer = OutboxChannelWriter(outbox: outbox, channel: channel)
            released = writer
            writer.start()
            channel.embeddedEventLoop.run()
            outbox.deliver("one")
            channel.embeddedEventLoop.run()
            outbox.deliver("two")
            held.complete(failing: true)
            #expect(await Self.ends(writer, on: channel))
        }
        #expect(held.texts == ["one"], "nothing is written after the socket failed")
        #expect(!outbox.deliver("three"), "the outbox has ended")
        // A Bool: rendering the writer on failure would print NIO's pipeline, which traps on an
        // EmbeddedChannel.
        let leaked = released != nil
        #expect(!leaked, "the writer outlived its connection")
        _ = try? channel.finish()
    }

    /// After a Close frame (the framework's echo of the client's) no frame goes out: the gate
    /// fails the writer's next batch and the writer ends, dropping what is queued.
    @Test func nothingFollowsACloseFrame() async throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        let outbox = Outbox(budget: 1_000)
        let writer = OutboxChannelWriter(outbox: outbox, channel: channel)
        writer.start()
        channel.embeddedEventLoop.run()
        outbox.deliver("before")
        channel.embeddedEventLoop.run()
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: channel.allocator.buffer(bytes: [0x03, 0xE8]))
        try await channel.writeAndFlush(close).get()
        outbox.deliver("after")
        #expect(await Self.ends(writer, on: channel))
        var wire: [UInt8] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { wire += b.readableBytesView }
        let text = String(decoding: wire, as: UTF8.self)
        #expect(text.contains("before") && !text.contains("after"), "frames after the Close: \(wire)")
        #expect(wire.suffix(4) == [0x88, 0x02, 0x03, 0xE8], "the Close is the last frame")
        _ = try channel.finish()
    }
}
