"""abs-capture-time for aiortc, which does not implement it (and one fix to its receiver, below): the sender stamps every RTP packet
with its frame's capture time (the track's `last_capture`, NTP), the receiver records the stamps
per RTP timestamp.

http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time carries a 64-bit NTP timestamp
(UQ32.32 seconds). Call install() before creating peer connections.
"""
import time
from struct import pack, unpack

from aiortc import jitterbuffer, rtcrtpreceiver, rtp
from aiortc.codecs import vpx
from aiortc.codecs import HEADER_EXTENSIONS, is_rtx
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"
NTP_EPOCH_OFFSET = 2_208_988_800

# Capture time (NTP) of the frame each sender (by SSRC) is sending now.
current_capture = {}
# What a receiver saw: kind -> {RTP timestamp: capture NTP}.
received = {"audio": {}, "video": {}}
# aiortc hands out frames with pts = RTP timestamp − the first one: kind -> {pts: RTP timestamp}.
rtp_timestamp_of_pts = {"audio": {}, "video": {}}


def capture_of(kind, pts):
    """The capture time (NTP) of a decoded frame, by its pts; None if none arrived."""
    ts = rtp_timestamp_of_pts[kind].get(pts)
    return None if ts is None else received[kind].get(ts)


def ntp_now():
    return int((time.time() + NTP_EPOCH_OFFSET) * (1 << 32))


def ntp_to_seconds(ntp):
    return ntp / (1 << 32) - NTP_EPOCH_OFFSET


def starts_key_frame(packet):
    try:
        descriptor, data = vpx.VpxPayloadDescriptor.parse(packet.payload)
    except Exception:
        return False
    return descriptor.partition_start and descriptor.partition_id == 0 and len(data) > 0 and data[0] & 1 == 0


def skip_to_key_frame(buffer, sequence_number):
    """Drops what precedes the first complete key frame after a hole; returns a frame if one is ready."""
    slots, origin, capacity = buffer._packets, buffer._origin, buffer._capacity
    hole = False
    for count in range(1, capacity):
        first = slots[(origin + count) % capacity]
        if first is None:
            hole = True
            continue
        if not hole or not starts_key_frame(first):
            continue
        # Complete: its packets run on without a hole up to the marker.
        for i in range(count, capacity):
            p = slots[(origin + i) % capacity]
            if p is None or p.timestamp != first.timestamp:
                break
            if p.marker:
                buffer.remove(count)
                return buffer._remove_frame(sequence_number)
        return None
    return None


async def renack(receiver, packet):
    """aiortc NACKs a missing packet once, when the gap appears; if the retransmission is lost too,
    the frame waits for the next new gap. libwebrtc asks again every round trip: so do we, every
    100 ms, for what is still missing and not yet given up (older than the jitter buffer's start)."""
    generator = receiver._RTCRtpReceiver__nack_generator
    if generator is None or not generator.missing:
        return
    now = time.monotonic()
    if now - getattr(receiver, "_last_renack", 0) < 0.1:
        return
    receiver._last_renack = now
    origin = receiver._RTCRtpReceiver__jitter_buffer._origin
    if origin is not None:
        generator.missing = {s for s in generator.missing if (s - origin) & 0xFFFF < 0x8000}
    if generator.missing:
        await receiver._send_rtcp_nack(packet.ssrc, sorted(generator.missing))


def install():
    for kind in ("audio", "video"):
        if not any(e.uri == URI for e in HEADER_EXTENSIONS[kind]):
            HEADER_EXTENSIONS[kind].append(RTCRtpHeaderExtensionParameters(id=5, uri=URI))

    configure, get, set_ = rtp.HeaderExtensionsMap.configure, rtp.HeaderExtensionsMap.get, rtp.HeaderExtensionsMap.set

    def configure_(self, parameters):
        configure(self, parameters)
        self._act_id = next((e.id for e in parameters.headerExtensions if e.uri == URI), None)

    def get_(self, profile, value):
        values = get(self, profile, value)
        act = getattr(self, "_act_id", None)
        if act:
            for x_id, x_value in rtp.unpack_header_extensions(profile, value):
                if x_id == act and len(x_value) in (8, 16):
                    values.abs_capture_time = unpack("!Q", x_value[:8])[0]
        return values

    def set__(self, values):
        profile, value = set_(self, values)
        act, t = getattr(self, "_act_id", None), getattr(values, "abs_capture_time", None)
        if not act or t is None:
            return profile, value
        elements = rtp.unpack_header_extensions(profile, value) if value else []
        return rtp.pack_header_extensions(elements + [(act, pack("!Q", t))])

    rtp.HeaderExtensionsMap.configure, rtp.HeaderExtensionsMap.get, rtp.HeaderExtensionsMap.set = configure_, get_, set__

    next_encoded = RTCRtpSender._next_encoded_frame

    async def next_encoded_(self, codec):
        frame = await next_encoded(self, codec)
        if frame is not None:
            current_capture[self._ssrc] = getattr(self.track, "last_capture", None)
        return frame

    RTCRtpSender._next_encoded_frame = next_encoded_

    serialize = rtp.RtpPacket.serialize

    def serialize_(self, extensions_map=rtp.HeaderExtensionsMap()):
        # Retransmissions serialize the same packet object again: keep its first stamp.
        if getattr(self.extensions, "abs_capture_time", None) is None and current_capture.get(self.ssrc) is not None:
            self.extensions.abs_capture_time = current_capture[self.ssrc]
        return serialize(self, extensions_map)

    rtp.RtpPacket.serialize = serialize_

    init, mapper_map = RTCRtpReceiver.__init__, rtcrtpreceiver.TimestampMapper.map

    def init_(self, kind, transport):
        init(self, kind, transport)
        self._RTCRtpReceiver__timestamp_mapper._kind = kind

    def map_(self, timestamp):
        pts = mapper_map(self, timestamp)
        seen = rtp_timestamp_of_pts[getattr(self, "_kind", "video")]
        seen[pts] = timestamp
        if len(seen) > 4096:
            for k in list(seen)[:2048]:
                del seen[k]
        return pts

    RTCRtpReceiver.__init__, rtcrtpreceiver.TimestampMapper.map = init_, map_

    # aiortc's jitter buffer hands out one complete frame per arriving packet, so after any wait for a
    # retransmission a stream of about one packet per frame (a 250 kbit/s rendition) never catches up
    # and its latency only grows. Drain every complete frame, as libwebrtc's frame buffer does.
    # And it waits for a missing packet until 512 packets later (17 s of a 250 kbit/s stream), even
    # when a complete key frame has arrived since — one that makes everything before it obsolete,
    # which is where libwebrtc resumes. A packet the sender will not resend (lost before the
    # relay moved this subscriber to another rendition) otherwise freezes it for that long.
    add = jitterbuffer.JitterBuffer.add

    def add_(self, packet):
        pli_flag, frame = add(self, packet)
        if frame is None and self._is_video and packet.marker:
            frame = skip_to_key_frame(self, packet.sequence_number)
        if frame is not None:
            while (more := self._remove_frame(packet.sequence_number)) is not None:
                self.drained = getattr(self, "drained", []) + [more]
        return pli_flag, frame

    jitterbuffer.JitterBuffer.add = add_

    handle = RTCRtpReceiver._handle_rtp_packet

    async def handle_(self, packet, arrival_time_ms):
        t = getattr(packet.extensions, "abs_capture_time", None)
        if t is not None:
            seen = received[self._RTCRtpReceiver__kind]
            seen[packet.timestamp] = t
            if len(seen) > 4096:
                for k in list(seen)[:2048]:
                    del seen[k]
        await handle(self, packet, arrival_time_ms)
        codecs = self._RTCRtpReceiver__codecs
        codec = codecs.get(packet.payload_type)
        if codec is not None and is_rtx(codec):
            # A retransmission on the RTX stream (RFC 4588): what it carried belongs to the
            # media stream, with the media codec (aiortc unwrapped it inside `handle`); and, as
            # libwebrtc does, it counts as received on the media stream's statistics (aiortc
            # counts it on the RTX stream's only, so its receiver reports call every repaired
            # packet lost).
            original = self._RTCRtpReceiver__rtx_ssrc.get(packet.ssrc)
            codec = codecs.get(codec.parameters.get("apt"))
            if original is None or codec is None or len(packet.payload) < 2:
                return
            osn = unpack("!H", packet.payload[:2])[0]
            packet = rtp.RtpPacket(payload_type=codec.payloadType, sequence_number=osn, timestamp=packet.timestamp, ssrc=original)
            streams = self._RTCRtpReceiver__remote_streams
            if original in streams:
                streams[original].add(packet)
        await renack(self, packet)
        buffer = self._RTCRtpReceiver__jitter_buffer
        for frame in getattr(buffer, "drained", []):
            if codec is not None and self._RTCRtpReceiver__decoder_thread:
                frame.timestamp = self._RTCRtpReceiver__timestamp_mapper.map(frame.timestamp)
                self._RTCRtpReceiver__decoder_queue.put((codec, frame))
        buffer.drained = []

    RTCRtpReceiver._handle_rtp_packet = handle_
