// Showroom's test page: publish with WHIP (RFC 9725), watch with WHEP. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
let pc = null;
let resource = null;
let token = null;
let lastBytes = null;

// For tests and curious users: the latest figures, also shown on the page.
window.showroomStats = { state: "idle", framesDecoded: 0, framesSent: 0, audioPacketsReceived: 0, bitrateKbps: 0, rewatches: 0 };

// While the page watches, a connection that fails (its node died, the network moved) is offered
// again (WHEP to this page's origin: a node behind it that lives serves it, or sends it on): at
// once when "failed", after 2 s still "disconnected"; a refused offer (the room's publisher is not
// back yet, the node still starting) is tried again after 1, 2, 4, then every 5 s; at most 6 new
// connections a minute.
let watching = false;
let rewatchTimes = [];
let rewatchTimer = null;

function connectionLost(lost) {
  if (!watching || pc !== lost || rewatchTimer) return;
  const state = lost.connectionState;
  if (state === "disconnected") {
    rewatchTimer = setTimeout(() => { rewatchTimer = null; if (pc === lost && lost.connectionState !== "connected") rewatch(0); }, 2000);
  } else if (state === "failed") {
    rewatch(0);
  }
}

async function rewatch(attempt) {
  if (!watching) return;
  const now = Date.now();
  rewatchTimes = rewatchTimes.filter((t) => now - t < 60000);
  const delay = rewatchTimes.length >= 6 ? 60000 - (now - rewatchTimes[0]) : 0;
  if (delay > 0) { rewatchTimer = setTimeout(() => { rewatchTimer = null; rewatch(attempt); }, delay); return; }
  rewatchTimes.push(now);
  if (pc) pc.close();
  pc = null;
  resource = null;
  try {
    await watch();
    window.showroomStats.rewatches += 1;
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = `reconnecting: ${e.message}`;
    const wait = [1000, 2000, 4000][attempt] ?? 5000;
    rewatchTimer = setTimeout(() => { rewatchTimer = null; rewatch(attempt + 1); }, wait);
  }
}

async function tokenFor(room, role) {
  const typed = $("token").value.trim();
  if (typed) return typed;
  // Demo tokens exist only when the server was started with --demo.
  const r = await fetch(`/demo-token?room=${encodeURIComponent(room)}&role=${role}`);
  if (!r.ok) throw new Error(`no token: paste one from \`showroom token\` (${r.status})`);
  showDemoBanner();
  return (await r.text()).trim();
}

// Shown once a page runs on a demo token: the server was started with --demo, which hands tokens
// for any room and role to its own pages — fine on a laptop, never in production.
function showDemoBanner() {
  if (document.getElementById("demo-banner")) return;
  const b = document.createElement("div");
  b.id = "demo-banner";
  b.textContent = "Demo mode: this server (started with --demo) gives its own pages tokens for any room and role. Not for production.";
  b.style.cssText = "background:#fff3c4;color:#5a4300;padding:0.4rem 1rem;font:14px system-ui,sans-serif;border-bottom:1px solid #e0c060";
  document.body.prepend(b);
}

function waitForIce(pc) {
  // Non-trickle: send the offer with its candidates (the server is ICE-lite and needs none).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000);
  });
}

async function negotiate(kind, room, query = "") {
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  const r = await fetch(`/${kind}/${encodeURIComponent(room)}${query}`, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", "Authorization": `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  if (r.status !== 201) throw new Error(`${kind.toUpperCase()} ${r.status}: ${await r.text()}`);
  resource = r.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
}

// Asks for abs-capture-time (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time) on
// a transceiver where the browser lets a page choose its header extensions (Chromium): a
// publisher's packets then carry each frame's capture time, the relay passes it on to every viewer
// (renditions too), and a viewer reads it back with getSynchronizationSources().
function withCaptureTime(transceiver) {
  if (!transceiver.getHeaderExtensionsToNegotiate) return;
  const extensions = transceiver.getHeaderExtensionsToNegotiate();
  for (const e of extensions) if (e.uri.endsWith("/abs-capture-time") && e.direction === "stopped") e.direction = "sendrecv";
  try { transceiver.setHeaderExtensionsToNegotiate(extensions); } catch (_) { /* the browser keeps its own */ }
}

// Glass to glass, per displayed video frame: when the viewer's browser handed it to the screen,
// minus when the publisher's camera captured it (abs-capture-time, NTP). Meaningful when both
// machines' clocks agree (the same machine, or both synchronized); the last 600 frames are kept.
// A publisher sends capture times only when its page was opened with `?latency=1` (they tell
// every viewer its clock); a viewer always asks for them.
const NTP_TO_UNIX_MS = 2_208_988_800_000;
let glassToGlass = [];
let lastFrame = null;
function sampleGlassToGlass() {
  const receiver = pc && pc.getReceivers().find((r) => r.track && r.track.kind === "video");
  if (!receiver || !receiver.getSynchronizationSources) return;
  for (const s of receiver.getSynchronizationSources()) {
    if (s.captureTimestamp === undefined || s.rtpTimestamp === lastFrame) continue;
    lastFrame = s.rtpTimestamp;
    glassToGlass.push(s.timestamp - (s.captureTimestamp - NTP_TO_UNIX_MS));
    if (glassToGlass.length > 600) glassToGlass.shift();
  }
}
setInterval(sampleGlassToGlass, 50);

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;
}

function preferCodec(transceiver, mime) {
  const caps = RTCRtpReceiver.getCapabilities(transceiver.receiver.track.kind);
  if (!caps || !transceiver.setCodecPreferences) return;
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mime);
  transceiver.setCodecPreferences([...first, ...rest]);
}

// The TURN servers this server hands out (none unless it runs with --turn-url): a shopper's
// network that blocks UDP still reaches the relay through them. `?ice=relay` forces TURN.
async function iceServersFor(room) {
  const r = await fetch(`/ice-servers/${encodeURIComponent(room)}`, { headers: { "Authorization": `Bearer ${token}` } });
  if (!r.ok) return [];
  return (await r.json()).iceServers || [];
}

function newConnection(iceServers) {
  const relayOnly = new URLSearchParams(location.search).get("ice") === "relay";
  const connection = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? "relay" : "all" });
  pc = connection;
  connection.addEventListener("connectionstatechange", () => {
    if (pc !== connection) return;
    $("state").textContent = connection.connectionState;
    window.showroomStats.state = connection.connectionState;
    connectionLost(connection);
  });
}

async function goLive() {
  const room = $("room").value;
  token = await tokenFor(room, "publisher");
  // Simulcast when the camera allows (consult.js's rule, shared with the widget); `?simulcast=0` off.
  const { simulcastEncodings, simulcastWanted } = await import("/consult.js");
  const simulcast = simulcastWanted();
  const media = await navigator.mediaDevices.getUserMedia({
    video: simulcast ? { width: { ideal: 1280 }, height: { ideal: 720 } } : { width: 640, height: 360 }, audio: true,
  });
  $("video").srcObject = media;
  newConnection(await iceServersFor(room));
  for (const track of media.getTracks()) {
    const init = { direction: "sendonly", streams: [media] };
    if (track.kind === "video" && simulcast) {
      const encodings = simulcastEncodings(track);
      if (encodings) init.sendEncodings = encodings;
    }
    const t = pc.addTransceiver(track, init);
    preferCodec(t, track.kind === "video" ? "video/vp8" : "audio/opus");
    // Opt-in: the capture times carry this machine's clock to every viewer.
    if (track.kind === "video" && new URLSearchParams(location.search).get("latency") === "1") withCaptureTime(t);
  }
  await negotiate("whip", room);
}

async function watch() {
  watching = true;
  // The figures are this connection's.
  lastBytes = null;
  Object.assign(window.showroomStats, { framesDecoded: 0, audioPacketsReceived: 0, audioSamplesReceived: 0 });
  const room = $("room").value;
  token = await tokenFor(room, "viewer");
  newConnection(await iceServersFor(room));
  const stream = new MediaStream();
  $("video").srcObject = stream;
  $("video").muted = false;
  pc.addEventListener("track", (e) => stream.addTrack(e.track));
  const video = pc.addTransceiver("video", { direction: "recvonly" });
  preferCodec(video, "video/vp8");
  withCaptureTime(video);
  preferCodec(pc.addTransceiver("audio", { direction: "recvonly" }), "audio/opus");
  glassToGlass = [];
  lastFrame = null;
  delete window.showroomStats.glassToGlassMs;
  $("g2g").textContent = "–";
  await negotiate("whep", room, `?quality=${encodeURIComponent($("quality").value)}`);
}

async function stop() {
  watching = false;
  if (rewatchTimer) clearTimeout(rewatchTimer);
  rewatchTimer = null;
  if (resource) await fetch(resource, { method: "DELETE", headers: { "Authorization": `Bearer ${token}` } }).catch(() => {});
  if (pc) pc.close();
  pc = null;
  resource = null;
  $("state").textContent = window.showroomStats.state = "stopped";
  setButtons(false);
}

async function updateStats() {
  if (!pc) return;
  const report = await pc.getStats();
  let bytes = 0, frames = 0, sent = 0, lost = 0, jitter = null, rtt = null, audioPackets = 0, audioSamples = 0, pair = null, size = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp") {
      bytes += s.bytesReceived || 0;
      lost += s.packetsLost || 0;
      if (s.kind === "video") {
        frames += s.framesDecoded || 0;
        jitter = s.jitter;
        if (s.frameWidth) size = `${s.frameWidth}x${s.frameHeight}`;
      }
      if (s.kind === "audio") { audioPackets += s.packetsReceived || 0; audioSamples += s.totalSamplesReceived || 0; }
    } else if (s.type === "outbound-rtp") {
      bytes += s.bytesSent || 0;
      if (s.kind === "video") sent += s.framesEncoded || 0;
    } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
      pair = s;
      if (s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
    } else if (s.type === "remote-inbound-rtp" && s.roundTripTime !== undefined) {
      rtt = rtt ?? s.roundTripTime;
    }
  });
  const kbps = lastBytes === null ? 0 : ((bytes - lastBytes) * 8) / 1000;
  lastBytes = bytes;
  Object.assign(window.showroomStats, {
    framesDecoded: frames, framesSent: sent, audioPacketsReceived: audioPackets, audioSamplesReceived: audioSamples,
    frameSize: size, bitrateKbps: kbps, packetsLost: lost,
  });
  // How this page reaches the relay: the local candidate's type (host, srflx, relay) and protocol.
  const local = pair && report.get(pair.localCandidateId);
  if (local) Object.assign(window.showroomStats, { candidateType: local.candidateType, candidateProtocol: local.protocol, relayProtocol: local.relayProtocol });
  $("bitrate").textContent = `${kbps.toFixed(0)} kbit/s`;
  $("frames").textContent = sent ? `${sent} sent` : `${frames} decoded`;
  $("loss").textContent = `${lost}`;
  $("jitter").textContent = jitter === null ? "–" : `${(jitter * 1000).toFixed(1)} ms`;
  $("rtt").textContent = rtt === null ? "–" : `${(rtt * 1000).toFixed(1)} ms`;
  if (glassToGlass.length) {
    const sorted = [...glassToGlass].sort((a, b) => a - b);
    const g2g = { frames: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] };
    window.showroomStats.glassToGlassMs = g2g;
    $("g2g").textContent = `${g2g.p50.toFixed(0)} ms (p95 ${g2g.p95.toFixed(0)})`;
  }
}

function setButtons(running) {
  $("live").disabled = running;
  $("watch").disabled = running;
  $("stop").disabled = !running;
}

function run(action) {
  return async () => {
    $("error").textContent = "";
    setButtons(true);
    try { await action(); } catch (e) { $("error").textContent = e.message; await stop(); }
  };
}

$("live").addEventListener("click", run(goLive));
$("watch").addEventListener("click", run(watch));
$("stop").addEventListener("click", stop);
setInterval(updateStats, 1000);
const params = new URLSearchParams(location.search);
if (params.get("room")) $("room").value = params.get("room");
if (params.get("quality")) $("quality").value = params.get("quality");
