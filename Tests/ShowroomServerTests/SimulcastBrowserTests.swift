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
        /// A viewer's frame log (peers/chromium_simulcast.py: every frame its decoder delivered, read
        /// from a clone of the received track): size changes and gaps over 1 s, seconds on the schedule's clock.
        func frameLog(_ viewer: String, _ name: String) -> [(at: Double, value: Any)] {
            (((result[viewer] as? [String: Any])?["frame_log"] as? [String: Any])?[name] as? [[Any]] ?? []).compactMap { entry in
                guard entry.count == 2, let at = entry[0] as? Double else { return nil }
                return (at, entry[1])
            }
        }
        let settledAt = result["settle_at"] as? Double ?? Double(Self.settle)
        for viewer in ["300k", "1M", "none"] {
            print("simulcast viewer \(viewer): sizes \(sizes(viewer).joined(separator: " ")); frames \(frameLog(viewer, "sizes").map { "\($0.at): \($0.value)" }); "
                + "gaps over 1 s (at, ms) \(frameLog(viewer, "gaps").map { "\($0.at): \($0.value)" }); "
                + "glass to glass over the steady part \(field(viewer, "glass_to_glass_static_ms") ?? "?"); \(field(viewer, "video") ?? [:])")
        }
        print("simulcast rendition changes: \(result["rendition_changes"] ?? [])")
        print("simulcast temporal layers: \(result["temporal_changes"] ?? "?") changes, \(result["temporal_skipped"] ?? "?") packets left out")
        let switches = result["layer_switches"] as? Double ?? 0, waited = result["layer_switch_wait_seconds"] as? Double ?? 0
        print("simulcast layer switches: \(Int(switches)), waiting \(switches > 0 ? waited / switches : 0) s on average for the key frame; \(result["layer_held"] ?? "?") packets held back")
        // 300 kbit/s: the smallest layer, from the settle on — but for at most two samples: in one
        // CI run of 2026-12-04 it was moved up to 360p for one sample (by a move up read against
        // a layer rate that had dipped, the suspected cause, since mended:
        // `SimulcastLayer.neededBitrate`) and back.
        #expect(capped300.count == Self.seconds && capped300[Self.settle...].count(where: { $0 != "320x180" }) <= 2, "\(capped300)")
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
        // Before the drop it is on 720p in all but at most two samples: on this 2-core machine
        // (a 720p encode and four decodes) its packets were once held up 40–80 ms on the way with
        // no cap, the relay read a queue and moved it down for a few seconds (one run in ~12 of
        // 2026-12-04's, with the camera-like picture, whose 720p layer is 2.4 Mbit/s).
        #expect(scheduled[Self.settle..<dropAt].count(where: { $0 != "1280x720" }) <= 2, "\(scheduled)")
        // The first smaller frame the viewer's decoder delivered after the drop, and the first
        // 720p one after the lift, on the schedule's clock. Down: 1.37–1.97 s in nine runs on this
        // 2-core machine, 1.25–2.17 s over the twelve runs while it was built (3.0–3.2 s before the relay held the old layer back and read the path's
        // rate from its newest arrivals) — asserted at 2.5 s, the issue's 2 s plus room for a
        // key frame the netsim's 500 ms queue cut short and had to be resent. Back within 10 s (a
        // probe that shows room for 720p goes there in one move).
        let sizeChanges = frameLog("none", "sizes")
        let down = sizeChanges.first { $0.at >= Double(Self.dropAt) && $0.value as? String != "1280x720" }.map { $0.at - Double(Self.dropAt) }
        let up = sizeChanges.first { $0.at >= Double(Self.liftAt) && $0.value as? String == "1280x720" }.map { $0.at - Double(Self.liftAt) }
        print("simulcast: off 1280x720 \(down ?? -1) s after the cap dropped; back on it \(up ?? -1) s after it lifted (frames, schedule clock)")
        #expect(down.map { $0 <= 2.5 } == true, "off 720p \(String(describing: down)) s after the drop: \(sizeChanges)")
        #expect(up.map { $0 <= 10 } == true, "back on 720p \(String(describing: up)) s after the lift: \(sizeChanges)")
        // aiortc viewers asking for `medium` (aiortc decodes in Python's process: the 720p layer
        // starved it on this 2-core machine), with no transport-wide feedback — receiver reports
        // steer them (docs/benchmarks.md) — each behind a netsim of its own. They start on the
        // 180p layer (a viewer with only receiver reports does: started on 360p, the one behind
        // 300 kbit/s played nothing for 15–18 s in every run, its jitter buffer waiting for
        // packets the full queue dropped) and climb only when a round-trip probe (`RoundTripProbe`:
        // 200 ms of copies on their RTX stream, then a sender report whose echo's round trip says
        // whether the path carries the next layer) shows room: behind 1 Mbit/s to 360p at
        // 12–13 s, behind 300 kbit/s never. (Moved blind after 30 s, as before, the 300 kbit/s one
        // froze 16–20 s after its move in about one run in five.) By hand in 15 runs with the
        // probe, neither had a gap over 1 s; asserted as for the Chromium viewers below: at most
        // one over 1 s, none of 2.5 s, and first frame within 3 s.
        let aiortc300 = result["aiortc_300k"] as? [String: Any] ?? [:], aiortc1M = result["aiortc_1M"] as? [String: Any] ?? [:]
        print("simulcast aiortc_300k: \(aiortc300)\nsimulcast aiortc_1M: \(aiortc1M)")
        print("simulcast: relay retransmissions \(result["retransmissions"] ?? "-"), skipped \(result["retransmissions_skipped"] ?? "-") (over budget \(result["retransmissions_over_budget"] ?? "-")), answered again \(result["retransmitted_again"] ?? "-")")
        print("simulcast: receiver reports set aside while the relay's loop was saturated: \(result["adaptation_held"] ?? "?")")
        print("simulcast: round-trip probes \(result["round_trip_probes"] ?? "-")")
        let timeline300 = aiortc300["size_each_second"] as? [String] ?? [], timeline1M = aiortc1M["size_each_second"] as? [String] ?? []
        #expect(timeline300.count >= 30 && timeline300.allSatisfy { $0 == "320x180" }, "aiortc behind 300 kbit/s: \(aiortc300)")
        // On 360p by its second probe at the latest (10 s, then 20 s after a failed one). Not
        // asserted at the end: in one run of 15 a second of 34% loss (the none viewer froze twice
        // then too: this machine's two cores) moved it down 12 s before the end.
        #expect(
            timeline1M.count >= 40 && timeline1M.prefix(40).contains("640x360") && !timeline1M.contains("1280x720"),
            "aiortc behind 1 Mbit/s: \(timeline1M)")
        #expect(aiortc1M["frames_last_5s"] as? Int ?? 0 >= 10, "not playing: \(aiortc1M)")
        #expect(aiortc300["frames_last_5s"] as? Int ?? 0 >= 10, "not playing: \(aiortc300)")
        for viewer in [aiortc300, aiortc1M] {
            #expect((viewer["first_frame_s"] as? Double ?? .infinity) <= 3, "aiortc's first frame: \(viewer)")
            let listed = viewer["gaps_over_1s"] as? [[Any]]
            let gaps = (listed ?? []).map { $0.compactMap { ($0 as? NSNumber)?.doubleValue } }
            print("simulcast aiortc viewer: gaps over 1 s [second, ms] \(gaps)")
            #expect(listed != nil && gaps.count <= 1 && gaps.allSatisfy { $0.count == 2 && $0[1] < 2_500 }, "aiortc froze: \(gaps)")
        }
        // Once settled, no gap of 2.5 s or more between two frames a viewer's decoder delivered,
        // and the viewers behind a steady cap (300 kbit/s, 1 Mbit/s) at most one over 1 s: none in
        // eight runs by hand, one (1.7 s, the 300 kbit/s viewer's move to 360p above) in a CI
        // run. The viewer whose path drops from none to 300 kbit/s has a 1.2–1.4 s gap there (its
        // queue holds what the old layer sent; 2.5–2.9 s before the layer was held back). With the
        // old block picture (`--camera blocks`) every key frame cost the 180p viewers about a
        // second: 3–5 gaps over 1 s a run (docs/benchmarks.md).
        for viewer in ["300k", "1M", "none"] {
            #expect(field(viewer, "frame_log") != nil && (frameLog(viewer, "sizes").first != nil), "\(viewer): no frame log")
            let gaps = frameLog(viewer, "gaps").filter { $0.at >= settledAt }
            print("simulcast viewer \(viewer): \(gaps.count) gaps over 1 s after the layers settled")
            let long = gaps.filter { ($0.value as? Int ?? 0) >= 2_500 }
            #expect(long.isEmpty, "\(viewer): gaps of 2.5 s or more after the layers settled: \(long)")
            if viewer != "none" { #expect(gaps.count <= 1, "\(viewer): gaps over 1 s after the layers settled: \(gaps)") }
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
