import Foundation
import Testing

/// Issue 16, items 1 and 2, with a real browser: Chromium publishes simulcast from a 1280×720
/// camera and three Chromium viewers and two aiortc viewers behind `showroom-netsim` get the
/// layer their path carries, with no transcoder (`peers/chromium_simulcast.py`, Chromium and the server in a lo-only
/// namespace). Then the server's CPU with three `low` viewers of a simulcast publisher (a layer
/// forwarded) against three of a single-encoding one (a rendition transcoded), in the same run.
/// Runs in the test command's alone phase: it measures time and CPU.
@Suite(.serialized) struct SimulcastBrowserTests {
    static let seconds = 50, settle = 8, dropAt = 20, liftAt = 35

    @Test func viewersGetTheLayerTheirPathCarriesWithoutATranscoder() async throws {
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run tools/dev setup: it creates .venv")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/chromium/chromium"), "run tools/dev setup: it installs chromium")
        let netsim = repositoryRoot.appendingPathComponent(".build/debug/showroom-netsim").path
        try #require(FileManager.default.isExecutableFile(atPath: netsim), "swift build first: it makes showroom-netsim")
        let text = try await inLoopbackNamespace(
            [python, repositoryRoot.appendingPathComponent("Tests/ShowroomServerTests/peers/chromium_simulcast.py").path,
             "--showroom", ShowroomCommandTests.executable, "--netsim", netsim, "--seconds", "\(Self.seconds)", "--settle", "\(Self.settle)",
             "--drop-at", "\(Self.dropAt)", "--lift-at", "\(Self.liftAt)", "--cpu-viewers", "3"],
            timeout: 300)
        let line = try #require(text.split(separator: "\n").last, "no output from peers/chromium_simulcast.py")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(text.suffix(2_000))")
        #expect(result["publisher_state"] as? String == "connected", "\(line.prefix(2_000))")

        // The publisher sent three encodings of the camera.
        let layers = ((result["publisher"] as? [String: Any])?["layers"] as? [[String: Any]]) ?? []
        let sent = Set(layers.compactMap { l in (l["frameWidth"] as? Int).map { "\($0)x\(l["frameHeight"] as? Int ?? 0)" } })
        print("simulcast publisher's layers: \(layers)")
        #expect(sent == ["320x180", "640x360", "1280x720"], "\(layers)")
        // No transcoder ran while the viewers watched.
        let renditions = result["renditions"] as? [Double] ?? []
        #expect(renditions.count == Self.seconds && renditions.allSatisfy { $0 == 0 }, "renditions: \(renditions)")

        func sizes(_ viewer: String) -> [String] {
            ((result[viewer] as? [String: Any])?["samples"] as? [[String: Any]] ?? []).map { $0["size"] as? String ?? "none" }
        }
        func field(_ viewer: String, _ name: String) -> Any? { (result[viewer] as? [String: Any])?[name] }
        let capped300 = sizes("300k"), capped1M = sizes("1M"), scheduled = sizes("none")
        for viewer in ["300k", "1M", "none"] {
            print("simulcast viewer \(viewer): sizes \(sizes(viewer).joined(separator: " ")); longest gap between frames "
                + "\(field(viewer, "max_gap_static_ms") ?? "?") ms (steady), \(field(viewer, "max_gap_ms") ?? "?") ms (whole run); "
                + "glass to glass over the steady part \(field(viewer, "glass_to_glass_static_ms") ?? "?"); \(field(viewer, "video") ?? [:])")
        }
        print("simulcast rendition changes: \(result["rendition_changes"] ?? [])")
        for viewer in ["300k", "1M", "none"] {
            let counts = ((result[viewer] as? [String: Any])?["samples"] as? [[String: Any]] ?? []).map { $0["freezes"] as? Int ?? 0 }
            let at = counts.indices.filter { $0 > 0 && counts[$0] > counts[$0 - 1] }
            print("simulcast viewer \(viewer): \(counts.last ?? 0) gaps over 1 s, seen in samples \(at)")
        }
        print("simulcast temporal layers: \(result["temporal_changes"] ?? "?") changes, \(result["temporal_skipped"] ?? "?") packets left out")
        // 300 kbit/s: the smallest layer, from the settle on.
        #expect(capped300.count == Self.seconds && capped300[Self.settle...].allSatisfy { $0 == "320x180" }, "\(capped300)")
        // 1 Mbit/s: off the 720p layer once settled — a probe may take it there when that layer's
        // measured rate dips (a publisher short of CPU), for a sample or two, not more than a
        // tenth of the time — and on the 360p layer for a part of the run (reached by probing;
        // see docs/benchmarks.md for how much).
        #expect(capped1M[Self.settle...].count(where: { $0 == "1280x720" }) * 10 <= capped1M.count - Self.settle, "\(capped1M)")
        #expect(capped1M.count(where: { $0 == "640x360" }) >= 3, "\(capped1M)")
        // No cap: the 720p layer until the cap drops; 300 kbit/s moves it off within 2 s (3
        // one-second samples); the cap lifted, it is back on 720p before the run ends.
        // (The cap changes at samples `drop_index` and `lift_index`: the schedule runs from the
        // netsim's start, a few seconds before the first sample.)
        let dropAt = result["drop_index"] as? Int ?? Self.dropAt, liftAt = result["lift_index"] as? Int ?? Self.liftAt
        try #require(Self.settle < dropAt && dropAt < liftAt && liftAt < scheduled.count, "\(dropAt) \(liftAt) \(scheduled.count)")
        #expect(scheduled[Self.settle..<dropAt].allSatisfy { $0 == "1280x720" }, "\(scheduled)")
        let left = scheduled[dropAt...].firstIndex { $0 != "1280x720" }
        #expect(left != nil && left! - dropAt <= 3, "the cap dropped at sample \(dropAt): \(scheduled)")
        let back = scheduled[liftAt...].firstIndex { $0 == "1280x720" }
        print("simulcast: off 1280x720 \(left.map { $0 - dropAt } ?? -1) s after the cap dropped; back on it \(back.map { $0 - liftAt } ?? -1) s after it lifted")
        #expect(back != nil, "never back on 1280x720 after the cap lifted at sample \(liftAt): \(scheduled)")
        // Within 10 s of the lift, on the schedule's clock (a probe that shows room for 720p goes
        // there in one move).
        let times = result["sample_times"] as? [Double] ?? []
        if let back, times.indices.contains(back) {
            let seconds = times[back] - Double(Self.liftAt)
            print("simulcast: back on 1280x720 \(seconds) s after the cap lifted (schedule clock)")
            #expect(seconds <= 10, "back on 720p \(seconds) s after the lift: \(scheduled)")
        }
        // aiortc viewers asking for `medium` (aiortc decodes in Python's process: the 720p layer
        // starved it on this 2-core machine), with no transport-wide feedback — receiver-report
        // loss steers them, slowly (docs/benchmarks.md) — each behind a netsim of its own:
        // 300 kbit/s ends on the 180p layer; 1 Mbit/s gets the 360p layer and never more (it is
        // not asserted to stay there: the loss-based path has moved it to 180p after ~20 s);
        // both decoding on (the 180p layer of this camera runs at ~5–15 fps: its encoder drops
        // frames to keep to 200 kbit/s).
        let aiortc300 = result["aiortc_300k"] as? [String: Any] ?? [:], aiortc1M = result["aiortc_1M"] as? [String: Any] ?? [:]
        print("simulcast aiortc_300k: \(aiortc300)\nsimulcast aiortc_1M: \(aiortc1M)")
        #expect(aiortc300["sizes_last_5s"] as? [String] == ["320x180"], "aiortc behind 300 kbit/s: \(aiortc300)")
        let timeline1M = aiortc1M["size_each_second"] as? [String] ?? []
        #expect(timeline1M.count >= 30 && timeline1M.contains("640x360") && !timeline1M.contains("1280x720"), "aiortc behind 1 Mbit/s: \(timeline1M)")
        for viewer in [aiortc300, aiortc1M] { #expect(viewer["frames_last_5s"] as? Int ?? 0 >= 10, "not playing: \(viewer)") }
        // Playing throughout the steady part.
        for viewer in ["300k", "1M", "none"] {
            let gap = field(viewer, "max_gap_static_ms") as? Double ?? .infinity
            #expect(gap < 3_000, "\(viewer): a \(gap) ms freeze")
        }

        // CPU: three low viewers of a simulcast layer against three of a transcoded rendition.
        let forwarded = result["cpu_simulcast"] as? [String: Any] ?? [:], transcoded = result["cpu_transcoded"] as? [String: Any] ?? [:]
        print("server CPU with 3 low viewers: simulcast layer \(forwarded), transcoded rendition \(transcoded)")
        #expect(forwarded["renditions"] as? Double == 0 && transcoded["renditions"] as? Double == 1)
        #expect(forwarded["sizes"] as? [String] == ["320x180", "320x180", "320x180"] && transcoded["sizes"] as? [String] == ["320x180", "320x180", "320x180"])
        let a = forwarded["cpu"] as? Double ?? .infinity, b = transcoded["cpu"] as? Double ?? 0
        #expect(a < b, "a simulcast viewer should cost less than a transcoded one: \(a) vs \(b)")
    }
}
