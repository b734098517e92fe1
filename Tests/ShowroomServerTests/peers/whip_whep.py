"""An aiortc publisher (WHIP) and an aiortc viewer (WHEP) against a Showroom server on loopback.

Prints one JSON line: frames the viewer decoded per kind, HTTP statuses, and timings. Used by
ShowroomServerTests; run by hand with:
  .venv/bin/python whip_whep.py --url http://127.0.0.1:8080 --room demo \
      --publisher-token "$(showroom token --room demo --identity me --role publisher)" \
      --viewer-token "$(showroom token --room demo --identity you --role viewer)"
"""
import argparse, asyncio, json, re, time, urllib.error, urllib.request

import aioice.ice

# aiortc ignores loopback unless told; and it must never contact anything but loopback.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import (AudioStreamTrack, RTCConfiguration, RTCPeerConnection,  # noqa: E402
                    RTCSessionDescription, VideoStreamTrack)
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402


def post(url, sdp, token):
    req = urllib.request.Request(url, data=sdp.encode(), method="POST",
                                 headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers.get("Location"), resp.read().decode()


def delete(url, token):
    req = urllib.request.Request(url, method="DELETE", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:  # the server is gone
        return 0


def prefer(pc, kind, mime):
    for t in pc.getTransceivers():
        if t.kind == kind:
            caps = RTCRtpSender.getCapabilities(kind)
            t.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == mime])


async def negotiate(pc, url, token, via=None):
    """Offer, POST, answer. With `via` (a showroom-netsim port), the answer's candidate is rewritten
    so that the peer reaches the server through the impairment relay."""
    await pc.setLocalDescription(await pc.createOffer())
    loop = asyncio.get_running_loop()
    status, location, answer = await loop.run_in_executor(None, post, url, pc.localDescription.sdp, token)
    if via:
        answer = re.sub(r"(a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 )\d+( typ host)", rf"\g<1>{via}\g<2>", answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return status, location


def arguments(seconds):
    """The options every peer script takes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--room", default="demo")
    ap.add_argument("--publisher-token", required=True)
    ap.add_argument("--viewer-token", required=True)
    ap.add_argument("--seconds", type=float, default=seconds)
    ap.add_argument("--quality", default="source")
    ap.add_argument("--adaptive", default="1", help="1: the relay may move the viewer to renditions its reports call for")
    ap.add_argument("--viewer-turn", choices=["udp", "tcp"],
                    help="the viewer reaches the relay only through the server's TURN server (GET /ice-servers), over this transport")
    return ap


def turn_configuration(args):
    """The viewer's configuration with --viewer-turn: the TURN URL of that transport from the
    server's /ice-servers with the viewer's credentials, relay candidates only."""
    from aiortc import RTCIceServer, RTCIceTransportPolicy
    req = urllib.request.Request(f"{args.url}/ice-servers/{args.room}", headers={"Authorization": f"Bearer {args.viewer_token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        servers = json.loads(r.read())["iceServers"]
    chosen = [RTCIceServer(urls=url, username=s["username"], credential=s["credential"])
              for s in servers for url in s["urls"] if url.endswith(f"transport={args.viewer_turn}")]
    if not chosen:
        raise SystemExit(f"the server offers no TURN URL over {args.viewer_turn}: {servers}")
    return RTCConfiguration(iceServers=chosen[:1], iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def publisher_and_viewer(args, audio, video, result):
    """Publishes `audio` and `video` over WHIP; returns the publisher, its location and a recvonly
    viewer connection (not yet negotiated: the caller adds its track handler first)."""
    config = RTCConfiguration(iceServers=[])
    publisher = RTCPeerConnection(config)
    publisher.addTrack(audio)
    publisher.addTrack(video)
    prefer(publisher, "video", "video/vp8")
    prefer(publisher, "audio", "audio/opus")
    result["whip_status"], whip_location = await negotiate(publisher, f"{args.url}/whip/{args.room}", args.publisher_token)
    viewer = RTCPeerConnection(turn_configuration(args) if getattr(args, "viewer_turn", None) else config)
    viewer.addTransceiver("audio", direction="recvonly")
    viewer.addTransceiver("video", direction="recvonly")
    return publisher, whip_location, viewer


async def hang_up(args, publisher, whip_location, viewer, whep_location, result):
    """DELETEs both resources (statuses into `result`) and closes both connections."""
    loop = asyncio.get_running_loop()
    result["whep_delete"] = await loop.run_in_executor(None, delete, args.url + whep_location, args.viewer_token)
    result["whip_delete"] = await loop.run_in_executor(None, delete, args.url + whip_location, args.publisher_token)
    await viewer.close()
    await publisher.close()


async def main():
    ap = arguments(seconds=12)
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--audio-frames", type=int, default=50)
    ap.add_argument("--until-sizes", type=int, default=0,
                    help="also wait until this many distinct video sizes each decoded 30 frames (a test moving the viewer)")
    args = ap.parse_args()
    result = {}
    t0 = time.monotonic()
    publisher, whip_location, viewer = await publisher_and_viewer(args, AudioStreamTrack(), VideoStreamTrack(), result)
    counts = {"audio": 0, "video": 0}
    first = {}
    sizes = {}

    async def consume(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            counts[track.kind] += 1
            if track.kind == "video":
                size = f"{frame.width}x{frame.height}"
                sizes[size] = sizes.get(size, 0) + 1
            first.setdefault(track.kind, time.monotonic() - t0)

    @viewer.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    result["whep_status"], whep_location = await negotiate(viewer, f"{args.url}/whep/{args.room}?quality={args.quality}&adaptive={args.adaptive}", args.viewer_token)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        enough_sizes = len([n for n in sizes.values() if n >= 30]) >= args.until_sizes
        if counts["video"] >= args.video_frames and counts["audio"] >= args.audio_frames and enough_sizes:
            break
        await asyncio.sleep(0.1)
    result.update(video_frames=counts["video"], audio_frames=counts["audio"], video_sizes=sorted(sizes), frames_per_size=sizes,
                  first_video_s=first.get("video"), first_audio_s=first.get("audio"),
                  elapsed_s=time.monotonic() - t0)
    await hang_up(args, publisher, whip_location, viewer, whep_location, result)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
