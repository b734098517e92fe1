"""GStreamer's webrtcbin against Showroom: publishes a test pattern and a tone over WHIP, or plays a
room over WHEP and counts the frames it decodes. Run with the system Python (/usr/bin/python3: it
has `gi`; Debian's python3-gst-1.0, gir1.2-gst-plugins-bad-1.0, gir1.2-nice-0.1, gstreamer1.0-nice).

  /usr/bin/python3 gst_peer.py publish --url http://127.0.0.1:8080 --room r --token T --seconds 20
  /usr/bin/python3 gst_peer.py watch   --url http://127.0.0.1:8080 --room r --token T --seconds 15

Prints {"event": "connected"} once ICE is up, then one JSON line (SIGTERM ends it early, with its DELETE): HTTP statuses, and (watch) the video frames and audio buffers decoded and the
decoded size. libnice gathers nothing on its own in a test's namespace, so the local address is
given (--local-address) and added to webrtcbin's ICE agent; no STUN server is ever contacted.
"""
import argparse, json, signal, sys, threading, time, urllib.error, urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

VIDEO_CAPS = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
AUDIO_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000"


def http(method, url, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/sdp"
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Location"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, None, e.read().decode(errors="replace")


class Peer:
    def __init__(self, args):
        self.args = args
        self.result = {"role": args.mode}
        self.loop = GLib.MainLoop()
        self.location = None
        self.counts = {"video": 0, "audio": 0}
        if args.mode == "publish":
            self.pipeline = Gst.parse_launch(
                "webrtcbin name=w bundle-policy=max-bundle "
                "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc ! "
                f"rtpopuspay pt=111 ! {AUDIO_CAPS} ! w. "
                "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert ! "
                "vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=600000 ! "
                f"rtpvp8pay pt=96 picture-id-mode=15-bit ! {VIDEO_CAPS} ! w.")
        else:
            # (parse_launch of one element returns the element, not a pipeline)
            self.pipeline = Gst.Pipeline.new("watch")
            webrtc = Gst.ElementFactory.make("webrtcbin", "w")
            webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
            self.pipeline.add(webrtc)
        self.webrtc = self.pipeline.get_by_name("w")
        # Keep a reference for the pipeline's life: webrtcbin 1.22 does not own its ICE agent's wrapper.
        self.ice = self.webrtc.get_property("ice-agent")
        address = Nice.Address.new()
        address.set_from_string(args.local_address)
        self.ice.get_property("agent").add_local_address(address)
        if args.mode == "watch":
            for caps in (AUDIO_CAPS, VIDEO_CAPS):
                self.webrtc.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY, Gst.Caps.from_string(caps))
            self.webrtc.connect("pad-added", self.on_pad)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::ice-connection-state", self.on_ice)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def start(self):
        self.pipeline.set_state(Gst.State.PLAYING)
        if self.args.mode == "publish":
            # webrtcbin offers sendrecv; WHIP wants sendonly.
            index = 0
            while True:
                t = self.webrtc.emit("get-transceiver", index)
                if t is None:
                    break
                t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
                index += 1
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        self.webrtc.emit("create-offer", None, promise)
        GLib.timeout_add(int(self.args.seconds * 1000), self.finish)
        # SIGTERM ends it early (a publisher is stopped that way), with its DELETE.
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.finish)
        self.started = time.monotonic()
        self.loop.run()

    def on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, webrtc, _):
        if webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE and self.location is None:
            sdp = webrtc.get_property("local-description").sdp.as_text()
            endpoint = "whip" if self.args.mode == "publish" else "whep"
            # POSTing blocks: not on the main loop's thread.
            threading.Thread(target=self.post, args=(f"{self.args.url}/{endpoint}/{self.args.room}", sdp), daemon=True).start()

    def post(self, url, sdp):
        status, location, answer = http("POST", url, self.args.token, sdp)
        self.result["post_status"] = status
        self.location = location or ""
        if status != 201:
            self.result["error"] = answer[:300]
            GLib.idle_add(self.finish)
            return
        ok, message = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        GLib.idle_add(lambda: self.webrtc.emit("set-remote-description", description, Gst.Promise.new()) and False)

    def on_ice(self, webrtc, _):
        state = webrtc.get_property("ice-connection-state")
        self.result["ice_state"] = state.value_nick
        if state in (GstWebRTC.WebRTCICEConnectionState.CONNECTED, GstWebRTC.WebRTCICEConnectionState.COMPLETED) and "connected_s" not in self.result:
            self.result["connected_s"] = round(time.monotonic() - self.started, 3)
            print(json.dumps({"event": "connected"}), flush=True)

    def on_pad(self, webrtc, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make("decodebin")
        decode.connect("pad-added", self.on_decoded_pad)
        self.pipeline.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad("sink"))

    def on_decoded_pad(self, decode, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        kind = "video" if name.startswith("video") else "audio"
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

        def counted(pad, info):
            self.counts[kind] += 1
            if kind == "video" and "video_size" not in self.result:
                s = pad.get_current_caps().get_structure(0)
                self.result["video_size"] = f"{s.get_value('width')}x{s.get_value('height')}"
            if self.counts["video"] >= self.args.video_frames and self.counts["audio"] >= self.args.audio_frames:
                GLib.idle_add(self.finish)
            return Gst.PadProbeReturn.OK

        pad.add_probe(Gst.PadProbeType.BUFFER, counted)

    def on_error(self, bus, message):
        error, debug = message.parse_error()
        self.result.setdefault("pipeline_errors", []).append(f"{error.message}")

    def finish(self):
        if self.loop.is_running():
            self.result.update(video_frames=self.counts["video"], audio_buffers=self.counts["audio"],
                               elapsed_s=round(time.monotonic() - self.started, 3))
            self.loop.quit()
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["publish", "watch"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--local-address", default="127.0.0.1")
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--audio-frames", type=int, default=50)
    args = ap.parse_args()
    Gst.init(None)
    peer = Peer(args)
    peer.start()
    if peer.location:
        peer.result["delete_status"] = http("DELETE", args.url + peer.location, args.token)[0]
    peer.pipeline.set_state(Gst.State.NULL)
    print(json.dumps(peer.result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
