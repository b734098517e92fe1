"""Chromium publishes simulcast; viewers behind showroom-netsim caps get the layer their path
carries (issue 16, items 1 and 2), inside the caller's network namespace (which must hold only `lo`).

The live page goes live with its fake camera at 1280x720: three encodings (rid q, h, f: 320x180,
640x360, 1280x720). Three viewer tabs watch at once, each asking for `source` with adaptation on
(the page's defaults): one through a showroom-netsim capped at 300 kbit/s, one capped at 1 Mbit/s,
one straight to the relay. The test's own script in each viewer tab points the relay's answer at
its netsim (as peers/chromium_weak_network.py does). Beside them, two aiortc viewers (WHEP,
`medium` — aiortc's Python-driven decoder of the 720p layer starves this 2-core machine —, no
transport-wide feedback: receiver reports steer them) through netsims of their own capped at
300 kbit/s and 1 Mbit/s. Every second: each Chromium viewer's decoded size and frames, and the
relay's renditions; throughout, each Chromium viewer's frames as its decoder delivers them (when
the size changed, and every gap over 1 s). Prints one JSON line.
"""
import argparse, json, random, re, subprocess, sys, tempfile, time, urllib.request

from chromium_common import browser, stats, wait_healthy

HTTP_PORT, MEDIA_PORT = 18091, 40210
CAPS = {"300k": (40310, 300), "1M": (40311, 1000)}
SCHEDULED_PORT = 40312
AIORTC_CAPS = {"300k": (40313, 300), "1M": (40314, 1000)}
BASE = f"http://127.0.0.1:{HTTP_PORT}"

HOOK = """
const via = arguments[0], media = arguments[1];
const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
RTCPeerConnection.prototype.setRemoteDescription = function (d) {
  if (d && d.sdp && via !== media) {
    const lines = d.sdp.split("\\r\\n").filter((l) => !(l.startsWith("a=candidate:") && l.includes(" tcp ")));
    d = { type: d.type, sdp: lines.map((l) => l.startsWith("a=candidate:") ? l.replace(` ${media} typ host`, ` ${via} typ host`) : l).join("\\r\\n") };
  }
  return setRemote.call(this, d);
};
"""

VIDEO_STATS = """
return (async () => { let r = {}; (await pc.getStats()).forEach((s) => {
  if (s.type === 'inbound-rtp' && s.kind === 'video') r = {framesDecoded: s.framesDecoded, frameWidth: s.frameWidth,
    frameHeight: s.frameHeight, freezeCount: s.freezeCount, totalFreezesDuration: s.totalFreezesDuration,
    packetsLost: s.packetsLost, keyFramesDecoded: s.keyFramesDecoded, pliCount: s.pliCount, nackCount: s.nackCount,
    retransmittedPacketsReceived: s.retransmittedPacketsReceived}; });
  return r; })()
"""

# Every frame the viewer's decoder delivers, read from a clone of the received track (a
# MediaStreamTrackProcessor: unlike the <video>'s frame callbacks, it runs in a tab that is not
# in front — the sampling loop brings one tab at a time to the front, and a tab behind composites
# nothing). Kept: each change of size and each gap over 1 s, on the wall clock (Date.now(), the
# clock the script's schedule is also read on). Bounded by the run: a size change or a gap needs
# a second's worth of frames.
FRAMES = """
window.frameLog = {frames: 0, last: null, sizes: [], gaps: [], started: null};
(async () => {
  const v = document.getElementById('video'), log = window.frameLog;
  while (!(v.srcObject && v.srcObject.getVideoTracks().length)) await new Promise((r) => setTimeout(r, 50));
  const reader = new MediaStreamTrackProcessor({track: v.srcObject.getVideoTracks()[0].clone()}).readable.getReader();
  log.started = Date.now();
  let size = null;
  for (;;) {
    const {value: frame, done} = await reader.read();
    if (done) break;
    const now = Date.now(), s = `${frame.displayWidth}x${frame.displayHeight}`;
    frame.close();
    if (log.last !== null && now - log.last > 1000) log.gaps.push([log.last, now - log.last]);
    log.last = now; log.frames++;
    if (s !== size) { log.sizes.push([now, s]); size = s; }
  }
})();
"""

LAYERS = """
return (async () => { let r = []; (await pc.getStats()).forEach((s) => {
  if (s.type === 'outbound-rtp' && s.kind === 'video') r.push({rid: s.rid, frameWidth: s.frameWidth, frameHeight: s.frameHeight,
    bytesSent: s.bytesSent, framesSent: s.framesSent, qualityLimitationReason: s.qualityLimitationReason, pliCount: s.pliCount,
    keyFramesEncoded: s.keyFramesEncoded}); });
  let bwe = null; (await pc.getStats()).forEach((s) => { if (s.type === 'candidate-pair' && s.nominated) bwe = s.availableOutgoingBitrate; });
  return {layers: r, availableOutgoingBitrate: bwe}; })()
"""


def write_y4m(path, rows):
    """A 1280x720 y4m at 15 frames a second the fake camera loops: `rows` (720 rows of luma, grey
    chroma) scrolling 32 pixels a frame, 40 frames, one whole turn, so the loop has no seam — at
    half the frame rate of a camera, so that a 2-core machine encodes three layers and decodes
    three viewers without starving, and with twice the motion, so that the layers cost what they
    would at 30."""
    w, h, step = 1280, 720, 32
    chroma = bytes([128]) * (w * h // 2)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(w // step):
            shift = n * step
            f.write(b"FRAME\n")
            f.write(b"".join(r[shift:] + r[:shift] for r in rows))
            f.write(chroma)
    return path


def camera_like(path):
    """What a camera sees, roughly: shapes at every scale (value noise, octaves of cell 320 down
    to 10 pixels with contrast falling with size, as in a photograph) under grain (±24, drawn
    for every pixel of the picture; it scrolls with it). Its 720p layer costs about 2.4 Mbit/s,
    its 360p layer about 520 kbit/s and its 180p layer 150-190 kbit/s — but the grain averages
    out as the picture is scaled down, so the 180p layer's key frames are small enough that its
    encoder no longer skips frames to pay for them (860-933 frames sent in a run, against
    357-404 with block_camera). Chromium's own fake picture, a flat cartoon, costs its 720p layer under 1 Mbit/s
    (a 1 Mbit/s viewer would get it); block_camera's 180p key frames cost more than a second of
    that layer, and the encoder pays each back by skipping frames."""
    w, h, grain = 1280, 720, 24
    rng = random.Random(7)
    luma = [[128.0] * w for _ in range(h)]
    for cell, contrast in [(320, 60), (160, 36), (80, 22), (40, 13), (20, 8), (10, 5)]:
        columns = w // cell  # periodic across the width: the scroll has no seam
        grid = [[rng.uniform(-contrast, contrast) for _ in range(columns)] for _ in range(h // cell + 2)]
        across = [(x // cell, (x % cell) / cell) for x in range(w)]
        for y in range(h):
            above, below, t = grid[y // cell], grid[y // cell + 1], (y % cell) / cell
            column = [a + (b - a) * t for a, b in zip(above, below)]
            row = luma[y]
            for x, (i, u) in enumerate(across):
                left, right = column[i], column[(i + 1) % columns]
                row[x] += left + (right - left) * u
    noise = rng.randbytes(w * h)
    rows = [bytes(min(235, max(16, int(v) + n % (2 * grain + 1) - grain)) for v, n in zip(luma[y], noise[y * w:(y + 1) * w]))
            for y in range(h)]
    return write_y4m(path, rows)


def block_camera(path):
    """The picture this test used before camera_like: random 8x8 blocks (luma 40-215). Every
    block is a sharp edge at every scale, so its 180p key frames are ~20 KB, more than a second
    of that layer's 150 kbit/s, and every key frame of it costs the 180p viewers about a second
    of frames (docs/benchmarks.md)."""
    w, h, block = 1280, 720, 8
    rng = random.Random(7)
    rows = []
    for _ in range(h // block):
        row = bytes(b for v in (rng.randrange(40, 216) for _ in range(w // block)) for b in [v] * block)
        rows += [row] * block
    return write_y4m(path, rows)


def cpu_seconds(pid):
    """User and system CPU time of a process so far (/proc/PID/stat, clock ticks → seconds)."""
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_phase(driver, server_pid, room, simulcast, viewers, seconds):
    """The server's CPU while `viewers` tabs watch `room` at `low`: a simulcast publisher's
    smallest layer (forwarded), or a single-encoding publisher's `low` rendition (transcoded).
    Returns the server's CPU share (of one core) over `seconds`, after 5 s to settle, and the
    renditions running."""
    from selenium.webdriver.common.by import By
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(f"{BASE}/?room={room}&simulcast={'1' if simulcast else '0'}")
    driver.find_element(By.ID, "live").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and stats(driver).get("state") != "connected":
        time.sleep(0.1)
    tabs = [driver.current_window_handle]
    for _ in range(viewers):
        driver.switch_to.new_window("tab")
        driver.get(f"{BASE}/?room={room}")
        driver.execute_script("document.getElementById('quality').value = 'low'")
        driver.find_element(By.ID, "watch").click()
        tabs.append(driver.current_window_handle)
    time.sleep(5)
    before, t0 = cpu_seconds(server_pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu_seconds(server_pid) - before, time.monotonic() - t0
    renditions = metric("showroom_relay_renditions")
    sizes = []
    for tab in tabs[1:]:
        driver.switch_to.window(tab)
        v = driver.execute_script(VIDEO_STATS) or {}
        sizes.append(f"{v.get('frameWidth')}x{v.get('frameHeight')}")
    for tab in reversed(tabs):
        driver.switch_to.window(tab)
        driver.find_element(By.ID, "stop").click()
        driver.close()
    driver.switch_to.window(first)
    return {"cpu": used / elapsed, "renditions": renditions, "sizes": sizes, "viewers": viewers}


def metrics_text():
    with urllib.request.urlopen(BASE + "/metrics", timeout=2) as r:
        return r.read().decode()


def metric(name):
    m = re.search(rf"^{name} (\S+)$", metrics_text(), re.M)
    return float(m.group(1)) if m else None


def dropped():
    """The relay's dropped packets by reason (`showroom_relay_dropped_total`)."""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'^showroom_relay_dropped_total\{reason="([^"]+)"\} (\S+)$', metrics_text(), re.M)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--netsim", required=True)
    ap.add_argument("--seconds", type=int, default=25)
    ap.add_argument("--settle", type=int, default=8, help="samples before the layers count as settled")
    ap.add_argument("--drop-at", type=int, default=20, help="second the uncapped viewer's path drops to 300 kbit/s")
    ap.add_argument("--lift-at", type=int, default=35, help="second that cap is lifted")
    ap.add_argument("--camera", choices=["camera", "blocks"], default="camera",
                    help="the fake camera's picture: camera_like (the default) or block_camera (docs/benchmarks.md compares them)")
    ap.add_argument("--cpu-viewers", type=int, default=0, help="then measure the server's CPU with this many low viewers")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="showroom-simulcast-")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--data-dir", data, "--log-level", "info", "--demo"],
                              stdout=open(f"{data}/server.log", "w"), stderr=subprocess.STDOUT)
    sims = [subprocess.Popen([args.netsim, "--listen", f"127.0.0.1:{port}", "--forward", f"127.0.0.1:{MEDIA_PORT}",
                              "--delay", "20", "--rate", str(rate), "--queue", "500", "--seed", "7"])
            for port, rate in list(CAPS.values()) + list(AIORTC_CAPS.values())]
    result = {}
    driver = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        from selenium.webdriver.common.by import By
        camera = (block_camera if args.camera == "blocks" else camera_like)(data + "/camera.y4m")
        driver = browser(extra=[f"--use-file-for-fake-video-capture={camera}"])
        driver.get(f"{BASE}/?room=sim&latency=1")  # capture times: each viewer's glass to glass
        driver.find_element(By.ID, "live").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and stats(driver).get("state") != "connected":
            time.sleep(0.1)
        result["publisher_state"] = stats(driver).get("state")
        publisher_tab = driver.current_window_handle
        # The uncapped viewer's path: no cap until --drop-at, 300 kbit/s until --lift-at, none after.
        scheduled_from, scheduled_from_wall = time.monotonic(), time.time()
        sims.append(subprocess.Popen([args.netsim, "--listen", f"127.0.0.1:{SCHEDULED_PORT}", "--forward", f"127.0.0.1:{MEDIA_PORT}",
                                      "--delay", "20", "--queue", "500", "--seed", "7",
                                      "--rate-schedule", f"{args.drop_at}=300,{args.lift_at}=0"], stdout=subprocess.DEVNULL))
        tabs = {}
        for name, via in [("300k", CAPS["300k"][0]), ("1M", CAPS["1M"][0]), ("none", SCHEDULED_PORT)]:
            driver.switch_to.new_window("tab")
            driver.get(f"{BASE}/?room=sim")
            driver.execute_script(HOOK, via, MEDIA_PORT)
            driver.find_element(By.ID, "watch").click()
            driver.execute_script(FRAMES)
            tabs[name] = driver.current_window_handle
        # The aiortc viewers, for as long as the Chromium ones are sampled.
        peer = __file__.rsplit("/", 1)[0] + "/aiortc_peer.py"
        aiortc = {}
        for name, (port, _) in AIORTC_CAPS.items():
            with urllib.request.urlopen(f"{BASE}/demo-token?room=sim&role=viewer&identity=aiortc-{name}", timeout=5) as r:
                token = r.read().decode().strip()
            aiortc[name] = subprocess.Popen(
                [sys.executable, peer, "watch", "--url", BASE, "--room", "sim", "--token", token, "--via", str(port),
                 "--quality", "medium", "--seconds", str(args.seconds + 3), "--until-done"], stdout=subprocess.PIPE, text=True)
        samples = {name: [] for name in tabs}
        static_g2g = {}
        # When each sample was taken on the schedule's clock (from the netsim's start; a sample
        # takes a little over a second, reading three tabs): which samples the changes fall in.
        sample_times = []
        renditions = []
        for second in range(args.seconds):
            time.sleep(1)
            sample_times.append(time.monotonic() - scheduled_from)
            if not static_g2g and sample_times[-1] >= args.drop_at:
                for name, tab in tabs.items():
                    driver.switch_to.window(tab)
                    static_g2g[name] = stats(driver).get("glassToGlassMs")
            renditions.append(metric("showroom_relay_renditions"))
            for name, tab in tabs.items():
                driver.switch_to.window(tab)
                v = driver.execute_script(VIDEO_STATS) or {}
                size = f"{v['frameWidth']}x{v['frameHeight']}" if v.get("frameWidth") else None
                samples[name].append({"size": size, "frames": v.get("framesDecoded", 0)})
        result["drop_index"] = next((i for i, t in enumerate(sample_times) if t >= args.drop_at), len(sample_times))
        result["lift_index"] = next((i for i, t in enumerate(sample_times) if t >= args.lift_at), len(sample_times))
        result["sample_times"] = sample_times
        # The frame logs are on the schedule's clock (seconds from the netsim's start); the layers
        # have settled by this sample.
        result["settle_at"] = sample_times[args.settle] if len(sample_times) > args.settle else None
        for name, tab in tabs.items():
            driver.switch_to.window(tab)
            result[name] = {"samples": samples[name], "video": driver.execute_script(VIDEO_STATS),
                            "glass_to_glass_static_ms": static_g2g.get(name),
                            "error": driver.find_element(By.ID, "error").text}
            log = driver.execute_script("return window.frameLog") or {}
            result[name]["frame_log"] = {
                "frames": log.get("frames"),
                "sizes": [[round(t / 1000 - scheduled_from_wall, 3), s] for t, s in log.get("sizes", [])],
                "gaps": [[round(t / 1000 - scheduled_from_wall, 3), g] for t, g in log.get("gaps", [])]}
        for name, process in aiortc.items():
            try:
                out, _ = process.communicate(timeout=30)
                result[f"aiortc_{name}"] = json.loads([l for l in out.splitlines() if l.startswith("{") and '"event"' not in l][-1])
            except Exception as e:  # noqa: BLE001 — reported, the test says what is missing
                process.kill()
                result[f"aiortc_{name}"] = {"error": repr(e)}
        driver.switch_to.window(publisher_tab)
        result["publisher"] = driver.execute_script(LAYERS)
        result["renditions"] = renditions
        result["temporal_skipped"] = metric("showroom_relay_temporal_skipped_packets_total")
        result["temporal_changes"] = metric("showroom_relay_temporal_changes_total")
        result["layer_switches"] = metric("showroom_relay_layer_switches_total")
        result["layer_switch_wait_seconds"] = metric("showroom_relay_layer_switch_wait_seconds_total")
        result["layer_held"] = metric("showroom_relay_layer_held_packets_total")
        result["adaptation_held"] = metric("showroom_relay_adaptation_held_total")
        result["keyframe_requests"] = metric("showroom_relay_keyframe_requests_total")
        result["viewer_keyframe_requests"] = metric("showroom_relay_viewer_keyframe_requests_total")
        result["viewer_keyframe_requests_passed_on"] = metric("showroom_relay_viewer_keyframe_requests_passed_on_total")
        result["dropped"] = dropped()
        result["retransmissions"] = metric("showroom_relay_retransmissions_total")
        result["retransmissions_skipped"] = metric("showroom_relay_retransmissions_skipped_total")
        result["retransmissions_over_budget"] = metric("showroom_relay_retransmissions_over_budget_total")
        result["publisher_layer_pauses"] = metric("showroom_relay_publisher_layer_pauses_total")
        result["queue_bursts_drained"] = metric("showroom_relay_queue_bursts_drained_total")
        result["retransmitted_again"] = metric("showroom_relay_retransmitted_again_packets_total")
        if args.cpu_viewers:
            for tab in tabs.values():
                driver.switch_to.window(tab)
                driver.find_element(By.ID, "stop").click()
                driver.close()
            driver.switch_to.window(publisher_tab)
            driver.find_element(By.ID, "stop").click()
            result["cpu_simulcast"] = cpu_phase(driver, server.pid, "cpu-simulcast", True, args.cpu_viewers, 10)
            result["cpu_transcoded"] = cpu_phase(driver, server.pid, "cpu-transcoded", False, args.cpu_viewers, 10)
    finally:
        if driver:
            driver.quit()
        for s in sims:
            s.terminate()
        server.terminate()
        server.wait(10)
    with open(f"{data}/server.log") as f:
        lines = f.readlines()
    result["rendition_changes"] = [l.strip()[-240:] for l in lines if "rendition changed" in l]
    result["round_trip_probes"] = [l.strip()[-200:] for l in lines if "round-trip probe judged" in l]
    print(json.dumps(result), flush=True)


main()
