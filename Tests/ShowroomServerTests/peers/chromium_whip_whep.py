"""Headless Chromium against a Showroom server, both inside the caller's network namespace
(which must hold only `lo`).

  --publisher chromium : one Chromium page goes live (fake camera and microphone) via WHIP,
                         a second page watches via WHEP.
  --publisher aiortc   : an aiortc publisher goes live via WHIP, a Chromium page watches.
  --restart            : then the server is killed (SIGKILL) and started again, the publisher
                         publishes again, and the watching page — untouched — must play again.

Prints one JSON line with what the watching page's getStats() reported.
"""
import argparse, asyncio, json, os, subprocess, sys, tempfile, threading, time, urllib.request

from selenium.webdriver.common.by import By

from chromium_common import browser, wait_healthy

HTTP_PORT, MEDIA_PORT = 18080, 40000
BASE = f"http://127.0.0.1:{HTTP_PORT}"


def stats(driver):
    return driver.execute_script("return window.showroomStats")


def aiortc_publisher(room, ready, stop):
    """Runs an aiortc WHIP publisher on its own event loop until `stop` is set."""
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from aiortc.rtcrtpsender import RTCRtpSender

    async def main():
        token = urllib.request.urlopen(f"{BASE}/demo-token?room={room}&role=publisher").read().decode()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        for t in pc.getTransceivers():
            mime = "video/vp8" if t.kind == "video" else "audio/opus"
            t.setCodecPreferences([c for c in RTCRtpSender.getCapabilities(t.kind).codecs if c.mimeType.lower() == mime])
        await pc.setLocalDescription(await pc.createOffer())
        req = urllib.request.Request(f"{BASE}/whip/{room}", data=pc.localDescription.sdp.encode(), method="POST",
                                     headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"})
        answer = await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(req).read().decode())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await pc.close()

    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--publisher", choices=["chromium", "aiortc"], required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--restart", action="store_true")
    args = ap.parse_args()
    result = {"publisher": args.publisher}
    data = tempfile.mkdtemp(prefix="showroom-chromium-")

    def serve():
        return subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                                 "--data-dir", data, "--log-level", "warning", "--demo"])
    server = serve()
    driver = None
    stop = threading.Event()
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        driver = browser()
        room = "chromium-" + args.publisher
        if args.publisher == "chromium":
            driver.get(f"{BASE}/?room={room}&simulcast=0")
            driver.find_element(By.ID, "live").click()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (stats(driver) or {}).get("state") != "connected":
                time.sleep(0.1)
            result["publisher_state"] = (stats(driver) or {}).get("state")
            driver.switch_to.new_window("tab")
        else:
            ready = threading.Event()
            threading.Thread(target=aiortc_publisher, args=(room, ready, stop), daemon=True).start()
            if not ready.wait(15):
                raise SystemExit("aiortc publisher did not connect")
        driver.get(f"{BASE}/?room={room}&simulcast=0")
        start = time.monotonic()
        driver.find_element(By.ID, "watch").click()
        s = {}
        while time.monotonic() - start < args.seconds:
            s = stats(driver) or {}
            if s.get("framesDecoded", 0) >= 60 and s.get("audioPacketsReceived", 0) > 0:
                break
            time.sleep(0.2)
        result.update(viewer=s, seconds=time.monotonic() - start, error=driver.find_element(By.ID, "error").text)
        if args.restart and args.publisher == "aiortc":
            # The node dies: no goodbye. It comes back on the same address (as another node behind
            # the page's origin would answer), the publisher publishes again, the page does nothing.
            server.kill()
            server.wait(10)
            killed = time.monotonic()
            stop.set()
            server = serve()
            if not wait_healthy(BASE, time.monotonic() + 20):
                raise SystemExit("server did not start again")
            stop = threading.Event()
            ready = threading.Event()
            threading.Thread(target=aiortc_publisher, args=(room, ready, stop), daemon=True).start()
            if not ready.wait(15):
                raise SystemExit("aiortc publisher did not connect again")
            result["republished_s"] = round(time.monotonic() - killed, 3)
            s, first = {}, None
            while time.monotonic() - killed < 40:
                s = stats(driver) or {}
                if first is None and s.get("rewatches", 0) >= 1 and s.get("framesDecoded", 0) > 0:
                    first = time.monotonic() - killed
                if s.get("rewatches", 0) >= 1 and s.get("framesDecoded", 0) >= 60:
                    break
                time.sleep(0.2)
            time.sleep(2)
            result["frames_2s_later"] = (stats(driver) or {}).get("framesDecoded", 0)
            result.update(after_restart=s, playing_again_s=round(first, 3) if first else None,
                          error_after=driver.find_element(By.ID, "error").text)
    finally:
        stop.set()
        if driver:
            driver.quit()
        server.terminate()
        server.wait(10)
    print(json.dumps(result), flush=True)


main()
