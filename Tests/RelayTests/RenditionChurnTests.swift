import Foundation
import Logging
import MediaWire
import NIOCore
@testable import Relay
import ShowroomTestSupport
import Testing

/// A viewer toggling its rendition as fast as `/ws` lets it (found by the hardening review; the
/// test failed before the fix: each toggle started or stopped a transcoder on the relay's loop).
@Suite struct RenditionChurnTests {
    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: URL(fileURLWithPath: Fixtures.directory()).appendingPathComponent("Fixtures/\(name)"), encoding: .utf8)
    }

    /// Starting a rendition builds its codecs (libvpx encoder and decoder) on the relay's event
    /// loop, and `setQuality` toggled between `medium` and `source` once started and stopped one
    /// each time. The rendition quotas bound how many run at once; ``RelayState/qualityChangeInterval``
    /// bounds the churn (one change a second per viewer, the latest wish applied when it is due).
    /// Here: what one connection's first burst (40 messages) costs the loop that forwards every
    /// room's media, and that the last wish is the one that holds.
    @Test func renditionChurnIsCheapForTheRelaysLoop() async throws {
        var config = RelayConfiguration()
        config.mediaPort = 0
        let relay = try await RelayServer.start(configuration: config, logger: Logger(label: "test"))
        defer { Task { await relay.stop() } }
        _ = try await relay.open(room: "r", identity: "merchant", publishing: true, offer: Self.fixture("aiortc-publisher-offer.sdp"))
        let viewer = try await relay.open(
            room: "r", identity: "toggler", publishing: false, quality: .source, adaptive: false, offer: Self.fixture("aiortc-viewer-offer.sdp"))
        let clock = ContinuousClock()
        var took: [Duration] = []
        let burst = clock.now
        for i in 0..<40 {
            let t = clock.now
            try await relay.setQuality(id: viewer.id, room: "r", quality: i % 2 == 0 ? .medium : .source)
            took.append(clock.now - t)
        }
        let seconds = (clock.now - burst).components.seconds
        let changes = await relay.statistics().first { $0.id == viewer.id }?.qualityChanges ?? -1
        print("setQuality ×40 in \(clock.now - burst): \(changes) rendition changes; first (starts medium) \(took[0])")
        // One change a second (plus the first at once), however fast the toggles come.
        #expect(changes >= 1 && changes <= Int(seconds) + 2, "\(changes) rendition changes in \(seconds) s of toggling")
        // The last toggle asked for `source`; then one more for `low`: it holds once it is due.
        try await relay.setQuality(id: viewer.id, room: "r", quality: .low)
        var settled = false
        for _ in 0..<100 where !settled {
            settled = await relay.statistics().first { $0.id == viewer.id }?.quality == .low
            if !settled { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(settled, "the viewer's last wish (low) was not applied within 5 s")
    }
}
