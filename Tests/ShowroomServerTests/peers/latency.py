"""Glass-to-glass latency through Showroom, optionally over an impaired network.

An aiortc publisher (WHIP) sends 640x360 VP8 at 30 fps with moving content and Opus, every packet
stamped with abs-capture-time (abs_capture.py); an aiortc viewer (WHEP) — behind showroom-netsim
when --viewer-via is given — decodes and, for every video frame, computes now − capture time.
Prints one JSON line: latency percentiles, frames, freezes, sizes seen. Run by hand with:
  .venv/bin/python latency.py --url http://127.0.0.1:8080 --room demo \\
      --publisher-token "$(showroom token --room demo --identity me --role publisher)" \\
      --viewer-token "$(showroom token --room demo --identity you --role viewer)" --seconds 20
"""
import asyncio, json, os, time

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from av import VideoFrame  # noqa: E402
from aiortc import AudioStreamTrack, VideoStreamTrack  # noqa: E402

import abs_capture  # noqa: E402
from whip_whep import arguments, hang_up, negotiate, publisher_and_viewer  # noqa: E402

abs_capture.install()


class MovingVideo(VideoStreamTrack):
    """640x360 at 30 fps: a gradient that scrolls, with a noisy band, so that VP8 needs a real bitrate."""

    def __init__(self, width=640, height=360):
        super().__init__()
        self.width, self.height = width, height
        row = bytes((x * 255 // width) for x in range(width))
        base = (row * height)
        noise = os.urandom(width * height // 4)
        self.frames = []
        for i in range(30):
            shift = (i * 8) % width
            y = bytearray(base[shift:] + base[:shift])
            band = height // 3 * width
            start = (i * 997) % len(noise)
            y[band:band + len(noise) // 2] = (noise[start:] + noise[:start])[: len(noise) // 2]
            self.frames.append(bytes(y))
        self.chroma = bytes([128]) * (width * height // 4)
        self.index = 0
        self.last_capture = None

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        frame.planes[0].update(self.frames[self.index % len(self.frames)])
        frame.planes[1].update(self.chroma)
        frame.planes[2].update(self.chroma)
        self.index += 1
        frame.pts, frame.time_base = pts, time_base
        self.last_capture = abs_capture.ntp_now()
        return frame


class StampedAudio(AudioStreamTrack):
    last_capture = None

    async def recv(self):
        frame = await super().recv()
        self.last_capture = abs_capture.ntp_now()
        return frame


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def main():
    ap = arguments(seconds=20)
    ap.add_argument("--viewer-via", type=int, help="UDP port of showroom-netsim in front of the server")
    ap.add_argument("--first-frame-seconds", type=float, default=15,
                    help="how long to wait for the viewer's first frame before measuring (then `--seconds` from it)")
    args = ap.parse_args()
    result = {}
    t0 = time.monotonic()
    publisher, whip_location, viewer = await publisher_and_viewer(args, StampedAudio(), MovingVideo(), result)
    frames = []  # (monotonic arrival, width, height, latency ms or None)
    audio_frames = [0]

    async def consume(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            if track.kind == "audio":
                audio_frames[0] += 1
                continue
            now = abs_capture.ntp_now()
            capture = abs_capture.capture_of("video", frame.pts)
            latency = (now - capture) * 1000 / (1 << 32) if capture is not None else None
            frames.append((time.monotonic(), frame.width, frame.height, latency))

    @viewer.on("track")
    def on_track(track):
        asyncio.ensure_future(consume(track))

    query = f"quality={args.quality}&adaptive={args.adaptive}"
    result["whep_status"], whep_location = await negotiate(
        viewer, f"{args.url}/whep/{args.room}?{query}", args.viewer_token, via=args.viewer_via)
    first_deadline = time.monotonic() + args.first_frame_seconds
    while not frames and time.monotonic() < first_deadline:
        await asyncio.sleep(0.05)
    start = time.monotonic()
    result["first_frame_s"] = start - t0 if frames else None
    while frames and time.monotonic() < start + args.seconds:
        await asyncio.sleep(0.1)
    end = time.monotonic()

    arrivals = [f[0] for f in frames]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])] + ([end - arrivals[-1]] if arrivals else [])
    latencies = [f[3] for f in frames if f[3] is not None]
    last5 = [f for f in frames if f[0] >= end - 5]
    result.update(
        video_frames=len(frames), audio_frames=audio_frames[0], frames_with_capture_time=len(latencies),
        latency_ms={p: percentile(latencies, float(p[1:])) for p in ("p50", "p95", "p99")} | {"max": max(latencies, default=None)},
        max_gap_ms=max(gaps, default=0) * 1000, freezes_over_500ms=sum(1 for g in gaps if g > 0.5),
        measured_s=end - start, video_sizes=sorted({f"{w}x{h}" for _, w, h, _ in frames}),
        sizes_last_5s=sorted({f"{w}x{h}" for _, w, h, _ in last5}), frames_last_5s=len(last5),
        latency_last_5s_ms={p: percentile([f[3] for f in last5 if f[3] is not None], float(p[1:])) for p in ("p50", "p95")})
    try:  # how the viewer reached the relay: its nominated pair's local candidate type (aioice internals)
        pair = viewer.getTransceivers()[0].receiver.transport.transport._connection._nominated.get(1)
        result["viewer_candidate"] = pair.local_candidate.type if pair else None
    except AttributeError:
        result["viewer_candidate"] = None
    await hang_up(args, publisher, whip_location, viewer, whep_location, result)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
