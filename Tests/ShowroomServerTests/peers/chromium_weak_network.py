"""A Chromium viewer behind showroom-netsim (issue 16, item 4), inside the caller's network
namespace (which must hold only `lo`).

A Chromium page goes live on a clean path; another tab watches through showroom-netsim (30 ms ± 10 ms
each way, 2% loss each way): the test's own script in that tab rewrites the relay's UDP candidate
to netsim's port (and drops the TCP one) before the page hands the answer to Chromium, so the media
crosses the impaired path and nothing else changes. The viewer watches twice, `--seconds` each:

- `twcc`: as Chromium offers — transport-wide congestion control; the relay steers by its
  send-side, delay-based estimate;
- `no_twcc`: the same page with transport-cc taken out of its offer (what the relay negotiated
  before): receiver reports and REMB steer;
- `capped`: as Chromium offers, through a second showroom-netsim capped at 180 kbit/s (20 ms, a
  200 ms queue): the delay trend must move the viewer down;
- `uplink`: a second publisher whose media crosses a third showroom-netsim (30 ms ± 10 ms, 2% loss
  each way) and a viewer on a clean path: the relay NACKs what the uplink lost and the publisher
  resends it on its RTX stream (item 3); the publisher's and the viewer's own counts, and the
  relay's, say how much was repaired.

Every second the relay's /metrics says which rendition the viewer gets. Prints one JSON line.
"""
import argparse, json, re, subprocess, tempfile, time, urllib.request

from chromium_common import browser, stats, wait_healthy

HTTP_PORT, MEDIA_PORT, NETSIM_PORT, CAPPED_PORT, UPLINK_PORT = 18090, 40200, 40300, 40301, 40302
BASE = f"http://127.0.0.1:{HTTP_PORT}"

HOOK = """
const via = arguments[0], media = arguments[1], strip = arguments[2];
const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
RTCPeerConnection.prototype.setRemoteDescription = function (d) {
  if (d && d.sdp) {
    const lines = d.sdp.split("\\r\\n").filter((l) => !(l.startsWith("a=candidate:") && l.includes(" tcp ")));
    d = { type: d.type, sdp: lines.map((l) => l.startsWith("a=candidate:") ? l.replace(` ${media} typ host`, ` ${via} typ host`) : l).join("\\r\\n") };
  }
  return setRemote.call(this, d);
};
if (strip) {
  const createOffer = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = async function (...a) {
    const o = await createOffer.apply(this, a);
    const sdp = o.sdp.split("\\r\\n").filter((l) => !l.includes("transport-wide-cc") && !l.endsWith(" transport-cc")).join("\\r\\n");
    return { type: o.type, sdp };
  };
}
"""


def viewers_by_quality():
    with urllib.request.urlopen(BASE + "/metrics", timeout=2) as r:
        text = r.read().decode()
    out = {}
    for q, n in re.findall(r'^showroom_relay_viewers\{quality="(\w+)"\} (\S+)$', text, re.M):
        out[q] = int(float(n))
    return out


def watch(driver, room, strip, seconds, via=NETSIM_PORT):
    from selenium.webdriver.common.by import By
    publisher_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(f"{BASE}/?room={room}&simulcast=0")
    driver.execute_script(HOOK, via, MEDIA_PORT, strip)
    driver.find_element(By.ID, "watch").click()
    start = time.monotonic()
    while time.monotonic() - start < 15 and stats(driver).get("framesDecoded", 0) < 30:
        time.sleep(0.2)
    samples, sizes, frames = [], [], []
    for _ in range(seconds):
        time.sleep(1)
        samples.append(viewers_by_quality())
        sizes.append(stats(driver).get("frameSize"))
        frames.append(stats(driver).get("framesDecoded", 0))
    # The video receiver's own counts: NACKs sent, packets repaired on the RTX stream, lost.
    video = driver.execute_script(
        "return (async () => { let r = {}; (await pc.getStats()).forEach((s) => {"
        " if (s.type === 'inbound-rtp' && s.kind === 'video') r = {nackCount: s.nackCount, packetsLost: s.packetsLost,"
        " packetsReceived: s.packetsReceived, retransmittedPacketsReceived: s.retransmittedPacketsReceived,"
        " freezeCount: s.freezeCount, totalFreezesDuration: s.totalFreezesDuration}; });"
        " return r; })()")
    viewer = dict(stats(driver), error=driver.find_element(By.ID, "error").text, video=video)
    driver.find_element(By.ID, "stop").click()
    driver.close()
    driver.switch_to.window(publisher_tab)
    on = {q: sum(1 for s in samples if s.get(q, 0) == 1) for q in ["source", "medium", "low"]}
    # The first second on `low`, and frames decoded over the last five seconds.
    first_low = next((i + 1 for i, s in enumerate(samples) if s.get("low", 0) == 1), None)
    return {"seconds_on": on, "samples": len(samples), "sizes": sizes, "viewer": viewer, "first_low": first_low,
            "frames_last_5s": frames[-1] - frames[-6] if len(frames) >= 6 else 0}


def relay_counters():
    with urllib.request.urlopen(BASE + "/metrics", timeout=2) as r:
        text = r.read().decode()
    names = ["upstream_nacks", "upstream_nacked_packets", "upstream_recovered_packets"]
    return {n: int(float(m.group(1))) for n in names for m in [re.search(rf"^showroom_relay_{n}_total (\S+)$", text, re.M)] if m}


def uplink(driver, seconds):
    """A publisher behind the lossy path (its page's answer rewritten to netsim's port), watched on
    a clean one; its outbound video counts as Chromium keeps them."""
    from selenium.webdriver.common.by import By
    driver.switch_to.new_window("tab")
    driver.get(f"{BASE}/?room=uplink&simulcast=0")
    driver.execute_script(HOOK, UPLINK_PORT, MEDIA_PORT, False)
    driver.find_element(By.ID, "live").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and stats(driver).get("state") != "connected":
        time.sleep(0.1)
    before = relay_counters()
    result = {"publisher_state": stats(driver).get("state")}
    result["watch"] = watch(driver, "uplink", False, seconds, via=MEDIA_PORT)
    result["publisher"] = driver.execute_script(
        "return (async () => { let r = {}; (await pc.getStats()).forEach((s) => {"
        " if (s.type === 'outbound-rtp' && s.kind === 'video') r = {packetsSent: s.packetsSent, nackCount: s.nackCount,"
        " retransmittedPacketsSent: s.retransmittedPacketsSent}; });"
        " return r; })()")
    after = relay_counters()
    result["relay"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    driver.find_element(By.ID, "stop").click()
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--netsim", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="showroom-weak-")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--data-dir", data, "--log-level", "info", "--demo"] + (["--media-threads", "1"] if False else []),
                              stdout=open(f"{data}/server.log", "w"), stderr=subprocess.STDOUT)
    netsim = subprocess.Popen([args.netsim, "--listen", f"127.0.0.1:{NETSIM_PORT}", "--forward", f"127.0.0.1:{MEDIA_PORT}",
                               "--delay", "30", "--jitter", "10", "--loss", "2", "--seed", "7"])
    capped = subprocess.Popen([args.netsim, "--listen", f"127.0.0.1:{CAPPED_PORT}", "--forward", f"127.0.0.1:{MEDIA_PORT}",
                               "--delay", "20", "--rate", "180", "--queue", "200", "--seed", "7"])
    uplink_path = subprocess.Popen([args.netsim, "--listen", f"127.0.0.1:{UPLINK_PORT}", "--forward", f"127.0.0.1:{MEDIA_PORT}",
                                    "--delay", "30", "--jitter", "10", "--loss", "2", "--seed", "11"])
    result = {}
    driver = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        from selenium.webdriver.common.by import By
        driver = browser()
        driver.get(f"{BASE}/?room=weak&simulcast=0")
        driver.find_element(By.ID, "live").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and stats(driver).get("state") != "connected":
            time.sleep(0.1)
        result["publisher_state"] = stats(driver).get("state")
        result["twcc"] = watch(driver, "weak", False, args.seconds)
        result["no_twcc"] = watch(driver, "weak", True, args.seconds)
        result["capped"] = watch(driver, "weak", False, args.seconds, via=CAPPED_PORT)
        driver.find_element(By.ID, "stop").click()
        result["uplink"] = uplink(driver, args.seconds)
    finally:
        if driver:
            driver.quit()
        netsim.terminate()
        capped.terminate()
        uplink_path.terminate()
        server.terminate()
        server.wait(10)
    with open(f"{data}/server.log") as f:
        result["rendition_changes"] = [l.strip()[-200:] for l in f if "rendition changed" in l]
    print(json.dumps(result), flush=True)


main()
