"""One aiortc peer against Showroom: publishes (WHIP) aiortc's test tracks, or watches (WHEP) a room
and counts the frames it decodes — the aiortc row and column of the interop table (interop.py).

  .venv/bin/python aiortc_peer.py publish --url URL --room R --token T --seconds 30 --local-address 10.99.9.1
  .venv/bin/python aiortc_peer.py watch   --url URL --room R --token T --seconds 20 --local-address 10.99.9.1

Prints {"event": "connected"} once connected, then one JSON line with the result. SIGTERM ends it early (a publisher is stopped that way), with its DELETE.
"""
import argparse, asyncio, json, signal, time

import aioice.ice

from whip_whep import delete, negotiate, prefer  # noqa: E402  (sets aiortc to loopback; overridden below)

from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, VideoStreamTrack  # noqa: E402


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["publish", "watch"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--local-address", default="127.0.0.1")
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--audio-frames", type=int, default=50)
    ap.add_argument("--via", type=int, help="watch through this showroom-netsim port (the answer's candidate is rewritten)")
    ap.add_argument("--quality", default="source")
    ap.add_argument("--until-done", action="store_true", help="watch for --seconds whatever the frame counts")
    args = ap.parse_args()
    # Only this address, never anything else (and never a STUN server: iceServers=[]).
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.local_address]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    result = {"role": args.mode}
    counts = {"audio": 0, "video": 0}
    t0 = time.monotonic()
    frames = []  # (arrival, "WxH") of each decoded video frame
    media, lag = {}, []  # the first frame's (arrival, media time); each frame's lag behind it, s
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    @pc.on("connectionstatechange")
    def on_state():
        result["state"] = pc.connectionState
        if pc.connectionState == "connected" and "connected_s" not in result:
            result["connected_s"] = round(time.monotonic() - t0, 3)
            print(json.dumps({"event": "connected"}), flush=True)

    if args.mode == "publish":
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        prefer(pc, "video", "video/vp8")
        prefer(pc, "audio", "audio/opus")
    else:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")

        async def consume(track):
            while True:
                try:
                    frame = await track.recv()
                except Exception:
                    return
                counts[track.kind] += 1
                if track.kind == "video":
                    result.setdefault("video_size", f"{frame.width}x{frame.height}")
                    frames.append((time.monotonic(), f"{frame.width}x{frame.height}"))
                    # How far behind the stream the decoded frames run (wall time since the first
                    # frame less media time since it): a decoder that cannot keep up falls behind.
                    if frame.time is not None:
                        media.setdefault("first", (time.monotonic(), frame.time))
                        w0, m0 = media["first"]
                        lag.append(round((time.monotonic() - w0) - (frame.time - m0), 3))
                if not args.until_done and counts["video"] >= args.video_frames and counts["audio"] >= args.audio_frames:
                    stop.set()

        @pc.on("track")
        def on_track(track):
            asyncio.ensure_future(consume(track))

    endpoint = "whip" if args.mode == "publish" else "whep"
    try:
        query = f"?quality={args.quality}" if args.mode == "watch" else ""
        result["post_status"], location = await negotiate(pc, f"{args.url}/{endpoint}/{args.room}{query}", args.token, via=args.via)
    except Exception as e:  # an HTTP error: the status and reason are the result
        result["error"] = str(e)
        location = None
    if location:
        try:
            await asyncio.wait_for(stop.wait(), args.seconds)
        except asyncio.TimeoutError:
            pass
        loop = asyncio.get_running_loop()
        result["delete_status"] = await loop.run_in_executor(None, delete, args.url + location, args.token)
    result.update(video_frames=counts["video"], audio_frames=counts["audio"], elapsed_s=round(time.monotonic() - t0, 3))
    if frames:
        end = frames[-1][0]
        last5 = [size for t, size in frames if t >= end - 5]
        # The size shown at each whole second since the first frame (the last frame's before it).
        timeline, i = [], 0
        for second in range(int(end - frames[0][0]) + 1):
            while i + 1 < len(frames) and frames[i + 1][0] <= frames[0][0] + second:
                i += 1
            timeline.append(frames[i][1])
        result.update(sizes_last_5s=sorted(set(last5)), frames_last_5s=len(last5), size_each_second=timeline,
                      first_frame_s=round(frames[0][0] - t0, 3), video_lag_s=lag[-1] if lag else None,
                      video_lag_max_s=max(lag) if lag else None,
                      max_gap_last_10s_ms=round(max((b[0] - a[0] for a, b in zip(frames, frames[1:]) if a[0] >= end - 10), default=0) * 1000),
                      # Every gap over 1 s between two decoded frames after the first, as [second
                      # since the start, gap in ms]: a receiver that waits for every packet stalls
                      # on one lost for good until 512 more have come (aiortc's jitter buffer).
                      gaps_over_1s=[[round(a[0] - t0, 1), round((b[0] - a[0]) * 1000)] for a, b in zip(frames, frames[1:]) if b[0] - a[0] > 1])
    await pc.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
