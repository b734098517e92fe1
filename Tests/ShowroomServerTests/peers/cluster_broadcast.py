"""A broadcast watched from several nodes of a cluster: an aiortc publisher (WHIP) on one node and
aiortc viewers (WHEP) on every node given, each counting the frames it decodes.

Prints one JSON line: the WHIP status and node, and per viewer its node, WHEP status, frames
decoded per kind and when the first video frame came. Used by ClusterMediaTests; by hand:
  .venv/bin/python cluster_broadcast.py --room launch --publisher-token T --viewer-token V \
      --publish-url http://127.0.0.1:8080 --view-url http://127.0.0.1:8081 --view-url http://127.0.0.1:8082
"""
import argparse, asyncio, json, os, time, urllib.error, urllib.request
from urllib.parse import urljoin, urlsplit

import aioice.ice

# aiortc ignores loopback unless told; and it must never contact anything but loopback.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack  # noqa: E402
from whip_whep import delete, prefer  # noqa: E402


def post(url, sdp, token):
    """POST an offer, following one 307 as RFC 9725 §4.5 says (same method and body; the
    redirect's URL carries a ticket, so no Authorization header goes to the other node)."""
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"}
    for _ in range(2):
        req = urllib.request.Request(url, data=sdp.encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, url, resp.read().decode(), urljoin(url, resp.headers.get("Location", ""))
        except urllib.error.HTTPError as e:
            if e.code != 307:
                return e.code, url, e.read().decode(), None
            url = urljoin(url, e.headers["Location"])
            headers = {"Content-Type": "application/sdp"}
    return 508, url, "", None


def publisher_connection(config):
    """A publishing connection with aiortc's test tracks, VP8 and Opus."""
    pc = RTCPeerConnection(config)
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    prefer(pc, "video", "video/vp8")
    prefer(pc, "audio", "audio/opus")
    return pc


async def negotiate(pc, url, token):
    """Offer, POST, answer: the status, the URL that served it and the session's URL."""
    await pc.setLocalDescription(await pc.createOffer())
    status, served, answer, session = await asyncio.get_running_loop().run_in_executor(None, post, url, pc.localDescription.sdp, token)
    if status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return status, served, session


async def played_again(entries, frame_times, since, key, args):
    """Waits (at most --seconds) until every viewer decoded --video-frames frames after `since`;
    records how many each did (`key`) and when its first came (`resumed_s`)."""
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not all(len([t for t in ts if t > since]) >= args.video_frames for ts in frame_times):
        await asyncio.sleep(0.1)
    for entry, ts in zip(entries, frame_times):
        later = [t for t in ts if t > since]
        entry[key] = len(later)
        entry["resumed_s"] = round(later[0] - since, 3) if later else None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--room", required=True)
    ap.add_argument("--publisher-token", required=True)
    ap.add_argument("--viewer-token", required=True)
    ap.add_argument("--url", help="the default --publish-url")
    ap.add_argument("--publish-url")
    ap.add_argument("--view-url", action="append", required=True, help="a viewer on this node (repeat)")
    ap.add_argument("--video-frames", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep watching once every viewer has its frames")
    ap.add_argument("--republish", action="store_true",
                    help="then the publisher leaves (DELETE) and publishes again; the viewers, untouched, must play again")
    ap.add_argument("--failover", metavar="MARKER",
                    help="then print {\"watching\": true} and wait for this file: the publisher's node was killed. The publisher "
                         "publishes again on --failover-url, and each viewer that was on the killed node offers again there; "
                         "the others, untouched, must play again")
    ap.add_argument("--failover-url")
    args = ap.parse_args()
    args.publish_url = args.publish_url or args.url
    t0 = time.monotonic()
    result = {"viewers": []}
    config = RTCConfiguration(iceServers=[])
    publisher = publisher_connection(config)
    result["whip_status"], result["whip_url"], whip_session = await negotiate(publisher, f"{args.publish_url}/whip/{args.room}", args.publisher_token)
    frame_times = []
    viewers = []
    handlers = []
    for url in args.view_url:
        pc = RTCPeerConnection(config)
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        entry = {"node": url, "audio": 0, "video": 0, "first_video_s": None}
        times = []
        frame_times.append(times)

        def on_track(track, entry=entry, times=times):
            async def consume():
                while True:
                    try:
                        await track.recv()
                    except Exception:
                        return
                    entry[track.kind] += 1
                    if track.kind == "video":
                        times.append(time.monotonic())
                    if track.kind == "video" and entry["first_video_s"] is None:
                        entry["first_video_s"] = round(time.monotonic() - t0, 3)
            asyncio.ensure_future(consume())

        pc.on("track", on_track)
        handlers.append(on_track)
        entry["whep_status"], entry["served_by"], session = await negotiate(pc, f"{url}/whep/{args.room}", args.viewer_token)
        viewers.append((pc, session))
        result["viewers"].append(entry)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not all(v["video"] >= args.video_frames for v in result["viewers"]):
        await asyncio.sleep(0.1)
    if args.hold:
        print(json.dumps({"watching": True}), flush=True)
        await asyncio.sleep(args.hold)
    loop = asyncio.get_running_loop()
    if args.failover:
        print(json.dumps({"watching": True}), flush=True)
        while not os.path.exists(args.failover):
            await asyncio.sleep(0.05)
        killed = urlsplit(result["whip_url"]).netloc
        again = time.monotonic()
        publisher = publisher_connection(config)
        result["whip_status_again"], result["whip_url_again"], whip_session = await negotiate(
            publisher, f"{args.failover_url}/whip/{args.room}", args.publisher_token)
        for i, entry in enumerate(result["viewers"]):
            if urlsplit(entry["node"]).netloc != killed:
                continue
            # This viewer's node is gone: it offers again to a live one, as a page whose connection failed does.
            old, _ = viewers[i]
            await old.close()
            pc = RTCPeerConnection(config)
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
            pc.on("track", handlers[i])
            entry["whep_status_again"], entry["served_by_again"], session = await negotiate(
                pc, f"{args.failover_url}/whep/{args.room}", args.viewer_token)
            viewers[i] = (pc, session)
        await played_again(result["viewers"], frame_times, again, "video_after_failover", args)
    if args.republish:
        result["whip_delete_first"] = await loop.run_in_executor(None, delete, whip_session, args.publisher_token)
        await publisher.close()
        await asyncio.sleep(1)
        publisher = publisher_connection(config)
        again = time.monotonic()
        result["whip_status_again"], result["whip_url_again"], whip_session = await negotiate(
            publisher, f"{args.publish_url}/whip/{args.room}", args.publisher_token)
        await played_again(result["viewers"], frame_times, again, "video_after_republish", args)
    result["elapsed_s"] = round(time.monotonic() - t0, 3)
    for (pc, session), entry in zip(viewers, result["viewers"]):
        if session:
            entry["whep_delete"] = await loop.run_in_executor(None, delete, session, args.viewer_token)
        await pc.close()
    if whip_session:
        result["whip_delete"] = await loop.run_in_executor(None, delete, whip_session, args.publisher_token)
    await publisher.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
