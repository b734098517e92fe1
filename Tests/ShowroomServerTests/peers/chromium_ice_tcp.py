"""Chromium against Showroom over ICE-TCP, both inside the caller's network namespace (which must
hold only `lo`; the nftables rules added here stay in it).

1. With UDP open, a Chromium page goes live and another watches: both use UDP (a peer that has
   both prefers UDP, the relay's TCP candidate has the lower priority).
2. With UDP to the relay's media ports dropped (nftables), the same: both connect to the relay's
   passive TCP candidate (RFC 6544) and play.

Prints one JSON line with both pages' stats for each step.
"""
import argparse, json, subprocess, tempfile, time

from chromium_common import browser, drop_udp, live_and_watch, wait_healthy

HTTP_PORT, MEDIA_PORT = 18080, 40000
BASE = f"http://127.0.0.1:{HTTP_PORT}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="showroom-ice-tcp-")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--data-dir", data, "--log-level", "warning", "--demo"])
    result = {}
    driver = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        driver = browser()
        # 8 s more once playing: the viewer page's glass-to-glass samples (abs-capture-time from
        # the publishing page's camera to the viewing page's display) over UDP, then over TCP.
        result["udp_open"] = live_and_watch(driver, BASE, "tcp-control", "&latency=1", dwell=8)
        result["udp_blocked"] = drop_udp([f"udp dport {MEDIA_PORT}-{MEDIA_PORT + 63} drop"], MEDIA_PORT)
        result["tcp"] = live_and_watch(driver, BASE, "tcp-only", "&latency=1", dwell=8)
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(10)
    print(json.dumps(result), flush=True)


main()
