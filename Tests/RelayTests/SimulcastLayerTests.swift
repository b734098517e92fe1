@testable import Relay
import Testing

/// A simulcast layer's measured rates (``SimulcastLayer``): the average over a few intervals, and
/// what a viewer moved to the layer must be able to take.
@Suite struct SimulcastLayerTests {
    /// One interval of `bytes` over a second.
    static func interval(_ layer: inout SimulcastLayer, bytes: Int) {
        layer.intervalBytes = bytes
        layer.measure(intervalSeconds: 1)
    }

    /// An interval in which the encoder skipped most frames (a tenth of its rate) does not make
    /// the layer look cheap: what a viewer needs for it stays near its usual rate. Before, the
    /// need was the last interval's rate alone, and a 300 kbit/s viewer was moved up to a
    /// 520 kbit/s layer that had measured 60 kbit/s for a second.
    @Test func aSecondOfSkippedFramesDoesNotMakeTheLayerCheap() throws {
        var layer = SimulcastLayer(rid: "h")
        for _ in 0..<8 { Self.interval(&layer, bytes: 65_000) }  // 520 kbit/s
        Self.interval(&layer, bytes: 6_500)  // 52 kbit/s
        #expect(layer.bitrate == 52_000)
        let needed = try #require(layer.neededBitrate)
        #expect(needed > 350_000, "\(needed)")
        // A rate that really fell is followed: under 100 kbit/s after nine intervals.
        for _ in 0..<8 { Self.interval(&layer, bytes: 6_500) }
        #expect(try #require(layer.neededBitrate) < 100_000)
        // One that rises counts at once.
        Self.interval(&layer, bytes: 65_000)
        #expect(layer.neededBitrate == 520_000)
    }
}
