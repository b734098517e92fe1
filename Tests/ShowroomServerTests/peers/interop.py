"""Every WebRTC stack a shop's customers and tools use, against Showroom: Chromium, Firefox ESR,
aiortc and GStreamer's webrtcbin, each as publisher (WHIP or the live page) with each as viewer
(WHEP or the live page) — the interop table in docs/reachability.md.

Runs inside the caller's network namespace, which must have a veth to a second, empty namespace
and its default route through it, with this script's --address on the veth (Firefox gathers ICE
candidates only on its default route's interface: ../shared/NOTES.md). The server announces that
address; every peer uses it; nothing leaves the two namespaces.

For each publisher in turn: it goes live in a room of its own, all four viewers watch at once, and
each viewer's result is what it decoded — video frames and their size, audio — read from
getStats() (browsers) or counted after the decoder (aiortc, GStreamer). Prints one JSON line:
{"rows": {publisher: {"publisher": {...}, "viewers": {viewer: {...}}}}, ...}.
"""
import argparse, json, os, shutil, signal, subprocess, tempfile, threading, time, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chromium_common import browser, stats, wait_healthy

HERE = os.path.dirname(os.path.abspath(__file__))
HTTP_PORT, MEDIA_PORT, COLLECTOR_PORT = 18080, 40000, 18090
BASE = f"http://127.0.0.1:{HTTP_PORT}"
STACKS = ["chromium", "firefox", "aiortc", "gstreamer"]


def token(room, role):
    with urllib.request.urlopen(f"{BASE}/demo-token?room={room}&role={role}", timeout=10) as r:
        return r.read().decode().strip()


class Collector:
    """Serves the browser peer page and keeps what each page reports (by its id)."""

    def __init__(self):
        reports, stops = {}, set()
        page = open(os.path.join(HERE, "firefox_peer.html"), "rb").read()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                ident = urllib.parse.parse_qs(url.query).get("id", [""])[0]
                body, kind = (page, "text/html") if url.path == "/page" else (b"stop" if ident in stops else b"", "text/plain")
                if url.path not in ("/page", "/control"):
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                ident = urllib.parse.parse_qs(url.query).get("id", [""])[0]
                length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
                try:
                    reports[ident] = json.loads(self.rfile.read(length))
                except ValueError:
                    pass
                self.send_response(204)
                self.end_headers()

        self.reports, self.stops = reports, stops
        self.server = ThreadingHTTPServer(("127.0.0.1", COLLECTOR_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class FirefoxPeer:
    PREFS = {
        "media.navigator.streams.fake": True, "media.navigator.permission.disabled": True,
        "media.peerconnection.ice.loopback": True, "media.peerconnection.ice.obfuscate_host_addresses": False,
        "media.autoplay.default": 0, "media.autoplay.blocking_policy": 0,
        "browser.shell.checkDefaultBrowser": False, "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False, "app.update.auto": False,
        "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
        "browser.safebrowsing.update.enabled": False, "extensions.update.enabled": False,
        # UDP interop only: Firefox over ICE-TCP is a known open bug — when it nominated the relay's
        # TCP candidate (on a loaded machine; why not the UDP pair was not seen) the connection stayed
        # "connecting" (DTLS over TCP never completed); 3 of ~10 runs in stop 23. See the closing note.
        "media.peerconnection.ice.tcp": False,
    }

    def __init__(self, collector, mode, room, log):
        self.collector, self.id = collector, f"firefox-{mode}-{room}"
        self.profile = tempfile.mkdtemp(prefix="showroom-firefox-")
        with open(os.path.join(self.profile, "user.js"), "w") as f:
            for k, v in self.PREFS.items():
                f.write(f'user_pref("{k}", {json.dumps(v)});\n')
        role = "publisher" if mode == "publish" else "viewer"
        query = urllib.parse.urlencode({"mode": mode, "server": BASE, "room": room, "token": token(room, role), "id": self.id, "seconds": 90})
        self.process = subprocess.Popen(
            ["firefox-esr", "--headless", "--no-remote", "--profile", self.profile, f"http://127.0.0.1:{COLLECTOR_PORT}/page?{query}"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ, MOZ_HEADLESS="1"))

    def report(self):
        return self.collector.reports.get(self.id, {})

    def connected(self):
        return self.report().get("state") == "connected"

    def stop(self):
        self.collector.stops.add(self.id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self.report().get("done"):
            time.sleep(0.2)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)
        return self.report()


class ChromiumPeer:
    """A tab of the shared Chromium on the live page (`/`), going live or watching."""

    def __init__(self, driver, mode, room):
        from selenium.webdriver.common.by import By
        self.driver, self.mode = driver, mode
        driver.switch_to.new_window("tab")
        self.tab = driver.current_window_handle
        driver.get(f"{BASE}/?room={room}&simulcast=0")
        driver.find_element(By.ID, "live" if mode == "publish" else "watch").click()

    def connected(self):
        self.driver.switch_to.window(self.tab)
        return stats(self.driver).get("state") == "connected"

    def report(self):
        from selenium.webdriver.common.by import By
        self.driver.switch_to.window(self.tab)
        return dict(stats(self.driver), error=self.driver.find_element(By.ID, "error").text)

    def stop(self):
        from selenium.webdriver.common.by import By
        final = self.report()
        self.driver.find_element(By.ID, "stop").click()
        self.driver.close()
        return final


class ProcessPeer:
    """aiortc (the venv's Python) or GStreamer (the system Python, which has `gi`) in a child."""

    def __init__(self, stack, mode, room, address, log):
        script, python = {"aiortc": ("aiortc_peer.py", os.sys.executable), "gstreamer": ("gst_peer.py", "/usr/bin/python3")}[stack]
        self.out = tempfile.NamedTemporaryFile(prefix=f"showroom-{stack}-", suffix=".json", delete=False)
        role = "publisher" if mode == "publish" else "viewer"
        self.process = subprocess.Popen(
            [python, os.path.join(HERE, script), mode, "--url", BASE, "--room", room, "--token", token(room, role),
             "--seconds", "90" if mode == "publish" else "25", "--local-address", address],
            stdout=self.out, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, cwd=HERE)

    def report(self):
        return {"running": self.process.poll() is None}

    def connected(self):
        """The peer prints {"event": "connected"} first, once its ICE and DTLS are up."""
        with open(self.out.name) as f:
            return '"connected"' in f.readline()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        with open(self.out.name) as f:
            lines = f.read().strip().splitlines()
        os.unlink(self.out.name)
        return json.loads(lines[-1]) if lines and '"event"' not in lines[-1] else {"error": f"no result (exit {self.process.returncode})"}


def decoded(stack, r):
    """(video frames, audio decoded, size, what the audio figure counts) a viewer's report shows,
    whatever its stack's words."""
    if stack in ("chromium", "firefox"):
        size = r.get("elementSize") or r.get("frameSize") or (f"{r.get('frameWidth')}x{r.get('frameHeight')}" if r.get("frameWidth") else None)
        # Audio decoded: the samples the browser's decoder produced (totalSamplesReceived), where
        # it reports them; else the packets it received.
        if r.get("audioSamplesReceived"):
            return r.get("framesDecoded", 0) or 0, r["audioSamplesReceived"], size, "samples"
        return r.get("framesDecoded", 0) or 0, r.get("audioPacketsReceived", 0) or 0, size, "packets"
    if stack == "aiortc":
        return r.get("video_frames", 0), r.get("audio_frames", 0), r.get("video_size"), "frames"
    return r.get("video_frames", 0), r.get("audio_buffers", 0), r.get("video_size"), "buffers"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--address", required=True, help="this namespace's veth address (announced by the server)")
    ap.add_argument("--publishers", default=",".join(STACKS))
    ap.add_argument("--viewers", default=",".join(STACKS))
    ap.add_argument("--frames", type=int, default=60, help="video frames a viewer must decode (with audio) to be done")
    ap.add_argument("--window", type=float, default=30, help="seconds each round's viewers get")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="showroom-interop-")
    log = open(os.path.join(data, "peers.log"), "w")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--announce-ip", args.address, "--data-dir", data, "--log-level", "warning", "--demo"],
                              stdout=log, stderr=log)
    result = {"rows": {}}
    driver = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        collector = Collector()
        driver = browser()
        first_tab = driver.current_window_handle

        def start(stack, mode, room):
            if stack == "chromium":
                return ChromiumPeer(driver, mode, room)
            if stack == "firefox":
                return FirefoxPeer(collector, mode, room, log)
            return ProcessPeer(stack, mode, room, args.address, log)

        for publisher_stack in args.publishers.split(","):
            room = f"interop-{publisher_stack}"
            t0 = time.monotonic()
            publisher = start(publisher_stack, "publish", room)
            # WHEP to a room with nothing published is refused (404): the viewers start once the
            # publisher is connected.
            ready_by = time.monotonic() + 30
            while time.monotonic() < ready_by and not publisher.connected():
                time.sleep(0.2)
            viewers = {v: start(v, "watch", room) for v in args.viewers.split(",")}
            done, finals = set(), {}
            deadline = time.monotonic() + args.window
            while time.monotonic() < deadline and len(done) < len(viewers):
                for stack, peer in viewers.items():
                    if stack in done:
                        continue
                    if isinstance(peer, ProcessPeer):
                        if peer.process.poll() is not None:
                            finals[stack] = peer.stop()
                            done.add(stack)
                        continue
                    video, audio, _, _ = decoded(stack, peer.report())
                    if video >= args.frames and audio > 0:
                        done.add(stack)
                time.sleep(0.5)
            for stack, peer in viewers.items():
                if stack not in finals:
                    finals[stack] = peer.stop()
            row = {"publisher": publisher.stop(), "viewers": {}}
            for stack, r in finals.items():
                video, audio, size, unit = decoded(stack, r)
                row["viewers"][stack] = {"video_frames": video, "audio": audio, "audio_counts": unit, "size": size, "report": r}
            row["seconds"] = round(time.monotonic() - t0, 1)
            result["rows"][publisher_stack] = row
            driver.switch_to.window(first_tab)
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(10)
        log.close()
        with open(os.path.join(data, "peers.log"), errors="replace") as f:
            result["log_tail"] = f.read()[-3000:]
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
