// Showroom consultation client: chat and calls over /ws (docs/protocol.md). No build step.
// Shared by the shopper widget (/shop) and the agent console (/agent).
"use strict";

export class Consultation {
  /// room, role ("shopper" | "agent"), tokenFor: async () => JWT; callbacks: onMessage(m),
  /// onEvent(type, data), onRemoteStream(stream), onState(text).
  constructor({ room, role, tokenFor, onMessage, onEvent, onRemoteStream, onState }) {
    Object.assign(this, { room, role, tokenFor, onMessage, onEvent, onRemoteStream, onState });
    this.lastSeq = Number(sessionStorage.getItem(`showroom.lastSeq.${room}`) || 0);
    this.seen = new Set();
    this.pending = new Map(); // client message id → content, until acknowledged
    this.refs = new Map(); // ref → {resolve, reject}
    this.me = null;
    this.ws = null;
    this.backoff = 250;
    this.localStream = null;
    this.publisher = null; // RTCPeerConnection sending our camera
    this.subscribers = new Map(); // publication session → RTCPeerConnection
    this.stats = { framesDecoded: 0, framesSent: 0, messages: 0, reconnects: 0, state: "connecting" };
    this.closed = false;
    this.joined = false; // true from `joined` until the connection ends: the room's messages need it
    this.readSeq = 0; // the latest message read: sent again on every `joined`
    this.node = null; // in a cluster, the node the room's media is on (`elsewhere`): ws[s]://host:port
    this.moves = []; // when we moved, to stop two nodes sending us back and forth
    this.nodeFailures = 0; // connections to `node` that ended before `joined`
  }

  start() { this.connect(); }

  async connect() {
    if (this.closed) return;
    let token;
    try { token = await this.tokenFor(); } catch (e) { this.state(`no token: ${e.message}`); return this.retry(); }
    let ws;
    try {
      ws = new WebSocket(`${this.node || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`}/ws`);
    } catch (e) {
      // A URL the browser refuses outright (no close event follows): back to our own node.
      this.state(`cannot connect: ${e.message}`);
      [this.node, this.nodeFailures] = [null, 0];
      return this.retry();
    }
    this.ws = ws;
    this.joined = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", v: 1, token }));
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      // A node we moved to that will not take us (three tries without a `joined`): back to ours.
      if (this.node && !ws.joinedOnce && ++this.nodeFailures >= 3) [this.node, this.nodeFailures] = [null, 0];
      clearInterval(this.pinger);
      this.ws = null;
      this.joined = false;
      this.state("reconnecting");
      // The server ended our media with the connection; calls resume after rejoining.
      this.dropMedia();
      this.retry();
    };
  }

  retry() {
    if (this.closed) return;
    this.stats.reconnects++;
    setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(Math.max(this.backoff * 2, 250), 5000);
  }

  state(text) { this.stats.state = text; this.onState?.(text); }

  /// In a cluster a room's media lives on one node: a publish or subscribe elsewhere is answered
  /// `elsewhere` with that node's URL (docs/cluster.md, "Media over /ws"). We reconnect there —
  /// the chat resumes from lastSeq, unacknowledged sends go again, and the call is published and
  /// subscribed again on `joined`. At most 3 moves a minute (a placement changing under us).
  moveTo(node) {
    let url;
    try { url = new URL(node); } catch { return; }
    if (url.protocol !== "http:" && url.protocol !== "https:") return;
    // A page served over HTTPS cannot open ws:// (mixed content): the cluster's node URLs must be https.
    if (location.protocol === "https:" && url.protocol !== "https:") {
      return this.onEvent?.("error", `the room's media is on ${node}, which this secure page cannot reach`);
    }
    // Publish and subscribe may both be answered `elsewhere` on one connection: one move.
    if (this.movingFrom && this.movingFrom === this.ws) return;
    const now = Date.now();
    this.moves = this.moves.filter((t) => now - t < 60000);
    if (this.moves.length >= 3) {
      this.state("the room's media keeps moving: staying here");
      return this.onEvent?.("error", "the room's media keeps moving between nodes; start the call again in a minute");
    }
    this.moves.push(now);
    this.movingFrom = this.ws;
    this.node = `${url.protocol === "https:" ? "wss" : "ws"}://${url.host}`;
    this.stats.node = node;
    this.backoff = 0;
    this.state("moving to the room's node");
    this.ws?.close();
  }

  raw(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  request(message) {
    const ref = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this.refs.set(ref, { resolve, reject });
      this.raw({ ...message, ref });
      setTimeout(() => { if (this.refs.delete(ref)) reject(new Error(`${message.type}: no answer`)); }, 15000);
    });
  }

  receive(m) {
    if (m.type === "error" && m.code === "elsewhere" && m.node) this.moveTo(m.node);
    const waiting = m.ref && this.refs.get(m.ref);
    if (waiting && (m.type === "error" || m.type === "answer" || m.type === "pong" || m.type === "history")) {
      this.refs.delete(m.ref);
      if (m.type === "error") waiting.reject(Object.assign(new Error(`${m.code}: ${m.reason}`), { code: m.code }));
      else waiting.resolve(m);
      return;
    }
    switch (m.type) {
      case "welcome":
        this.me = m.participant;
        this.iceServers = m.iceServers || [];
        this.raw({ type: "join", room: this.room, lastSeq: this.lastSeq });
        break;
      case "joined":
        this.joined = true;
        this.ws.joinedOnce = true;
        this.nodeFailures = 0;
        this.backoff = 250;
        this.state("online");
        this.pinger = setInterval(() => this.raw({ type: "ping" }), 10000);
        // What never got its ack goes again, under the same ids: stored once whatever happened.
        for (const [id, content] of this.pending) this.raw({ type: "send", id, ...content });
        if (this.readSeq) this.raw({ type: "read", seq: this.readSeq });
        this.onEvent?.("joined", m);
        if (this.localStream) this.publish(this.localStream).catch((e) => this.onEvent?.("error", e.message));
        for (const [session, participant] of Object.entries(m.publishers || {})) {
          if (participant !== this.me.id) this.subscribe(session).catch((e) => this.onEvent?.("error", e.message));
        }
        break;
      case "message":
        if (m.seq <= this.lastSeq && this.seen.has(m.seq)) return; // never twice
        this.seen.add(m.seq);
        this.lastSeq = Math.max(this.lastSeq, m.seq);
        sessionStorage.setItem(`showroom.lastSeq.${this.room}`, String(this.lastSeq));
        this.stats.messages++;
        this.onMessage?.(m);
        break;
      case "ack":
        this.pending.delete(m.id);
        this.onEvent?.("ack", m);
        break;
      case "track":
        if (m.event === "published" && m.participant !== this.me?.id) {
          this.subscribe(m.session).catch((e) => this.onEvent?.("error", e.message));
        }
        if (m.event === "unpublished") this.unsubscribe(m.session);
        this.onEvent?.("track", m);
        break;
      case "closing":
        this.state(`closed by server: ${m.code}`);
        break;
      default:
        this.onEvent?.(m.type, m);
    }
  }

  /// Sends chat content ({kind:"text", text} …); resolves when stored.
  send(content) {
    const id = crypto.randomUUID();
    this.pending.set(id, content);
    this.raw({ type: "send", id, ...content });
    return id;
  }

  /// Typing and read receipts belong to the room: on a new connection, before its `join` is
  /// answered, the server would refuse them (`not_joined`). Typing then is dropped (it is stale by
  /// the time the room is back); the latest read receipt goes again on every `joined` (receipts
  /// never move back, so again is harmless), which also covers one lost with a dying connection.
  typing(on) { if (this.joined) this.raw({ type: "typing", on }); }
  read(seq) {
    this.readSeq = Math.max(this.readSeq, Number(seq) || 0);
    if (this.joined) this.raw({ type: "read", seq: this.readSeq });
  }

  // MARK: calls

  async startCall() {
    if (!this.localStream) {
      // Simulcast asks the camera for 720p: three encodings are then sent (simulcastEncodings).
      const video = simulcastWanted() ? { width: { ideal: 1280 }, height: { ideal: 720 } } : { width: 640, height: 360 };
      this.localStream = await navigator.mediaDevices.getUserMedia({ video, audio: true });
    }
    await this.publish(this.localStream);
    return this.localStream;
  }

  async stopCall() {
    const stream = this.localStream;
    this.localStream = null;
    if (this.publisher) {
      const session = this.publisher.session;
      this.publisher.close();
      this.publisher = null;
      if (session) await this.request({ type: "stop", session }).catch(() => {});
    }
    for (const session of [...this.subscribers.keys()]) await this.unsubscribe(session, true);
    stream?.getTracks().forEach((t) => t.stop());
  }

  dropMedia() {
    this.publisher?.close();
    this.publisher = null;
    for (const pc of this.subscribers.values()) pc.close();
    this.subscribers.clear();
  }

  async publish(stream) {
    this.publisher?.close();
    const pc = this.peerConnection();
    this.publisher = pc;
    for (const track of stream.getTracks()) {
      const init = { direction: "sendonly", streams: [stream] };
      const encodings = track.kind === "video" && simulcastWanted() ? simulcastEncodings(track) : null;
      if (encodings) init.sendEncodings = encodings;
      const t = pc.addTransceiver(track, init);
      prefer(t, track.kind === "video" ? "video/vp8" : "audio/opus");
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.requestMedia({ type: "publish", sdp: pc.localDescription.sdp });
    if (!answer) return pc.close(); // moving: published again on the room's node
    pc.session = answer.session;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this.watch(pc, "sent");
  }

  /// A publish or subscribe: its answer, or null when the room's media is on another node (we
  /// are moving there: ``moveTo``).
  async requestMedia(message) {
    try {
      return await this.request(message);
    } catch (e) {
      if (e.code === "elsewhere") return null;
      throw e;
    }
  }

  /// A peer connection through the TURN servers of `welcome` (none unless the server runs with
  /// --turn-url); `?ice=relay` in the page's address forces TURN.
  peerConnection() {
    const relayOnly = new URLSearchParams(location.search).get("ice") === "relay";
    return new RTCPeerConnection({ iceServers: this.iceServers || [], iceTransportPolicy: relayOnly ? "relay" : "all" });
  }

  async subscribe(session) {
    if (this.subscribers.has(session)) return;
    const pc = this.peerConnection();
    this.subscribers.set(session, pc);
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.ontrack = (e) => { stream.addTrack(e.track); this.onRemoteStream?.(stream); };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.requestMedia({ type: "subscribe", sdp: pc.localDescription.sdp, source: session, quality: "source" });
    if (!answer) { this.subscribers.delete(session); return pc.close(); } // moving: subscribed again there
    pc.session = answer.session;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this.watch(pc, "received");
  }

  async unsubscribe(session, tellServer = false) {
    const pc = this.subscribers.get(session);
    if (!pc) return;
    this.subscribers.delete(session);
    pc.close();
    if (tellServer && pc.session) await this.request({ type: "stop", session: pc.session }).catch(() => {});
    this.onRemoteStream?.(null);
  }

  /// Frame counters from getStats, for the page and for tests: frames decoded and the size
  /// received; frames encoded (the largest encoding's) and each encoding's RID and size sent.
  watch(pc, direction) {
    const timer = setInterval(async () => {
      if (pc.connectionState === "closed") return clearInterval(timer);
      const report = await pc.getStats();
      const sent = [];
      report.forEach((s) => {
        if (direction === "received" && s.type === "inbound-rtp" && s.kind === "video") {
          this.stats.framesDecoded = s.framesDecoded || 0;
          this.stats.frameSize = s.frameWidth ? `${s.frameWidth}x${s.frameHeight}` : null;
        }
        if (direction === "sent" && s.type === "outbound-rtp" && s.kind === "video") sent.push(s);
      });
      if (direction === "sent" && sent.length) {
        this.stats.framesSent = Math.max(...sent.map((s) => s.framesEncoded || 0));
        this.stats.encodings = sent.map((s) => ({ rid: s.rid || null, size: s.frameWidth ? `${s.frameWidth}x${s.frameHeight}` : null }));
      }
    }, 500);
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}

function prefer(transceiver, mime) {
  const caps = RTCRtpReceiver.getCapabilities(transceiver.receiver.track.kind);
  if (!caps || !transceiver.setCodecPreferences) return;
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  transceiver.setCodecPreferences([...first, ...caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mime)]);
}

function gathered(pc) {
  // Non-trickle: the offer goes with its candidates (the server is ICE-lite).
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 2000);
  });
}

/// A token: `?token=` in the page's URL (a shop's backend mints it), else — when the server runs
/// on loopback — a demo token (for `identity` when given, else for a random one).
/// Whether calls publish simulcast: unless the page's address says `?simulcast=0`.
export function simulcastWanted() {
  return new URLSearchParams(location.search).get("simulcast") !== "0";
}

/// Simulcast (RFC 8853) when the camera allows: three encodings of one camera — a quarter, half
/// and the whole size, smallest first — and the relay forwards each viewer the one its path
/// carries, with no transcoding. A camera under 540 lines sends one encoding (null here). The
/// live page (app.js) uses it too.
export function simulcastEncodings(track) {
  const height = track.getSettings().height || 0;
  if (height < 540) return null;
  return [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 200_000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 700_000 },
    { rid: "f", maxBitrate: 2_500_000 },
  ];
}

export async function tokenFor(room, role, identity) {
  const given = new URLSearchParams(location.search).get("token");
  if (given) return given;
  // Demo tokens exist only when the server was started with --demo.
  const who = identity ? `&identity=${encodeURIComponent(identity)}` : "";
  const r = await fetch(`/demo-token?room=${encodeURIComponent(room)}&role=${role}${who}`);
  if (!r.ok) throw new Error(`add ?token= to the URL (demo tokens: ${r.status})`);
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

/// Renders one chat message into an element (text, image, video clip, product card, coupon, system line).
export function renderMessage(m, me) {
  const li = document.createElement("li");
  li.className = `msg ${m.kind} ${me && m.from === me.identity ? "mine" : "theirs"}`;
  li.dataset.seq = m.seq;
  // Who wrote it, for styling: the bot's and the desk's lines look different from people's.
  if (["shopper", "agent", "bot", "system"].includes(m.role)) li.classList.add(`role-${m.role}`);
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = `${m.from} (${m.role})`;
  const body = document.createElement("div");
  body.className = "body";
  switch (m.kind) {
    case "text": case "system":
      body.textContent = m.text; break;
    case "image": {
      const img = document.createElement("img");
      img.src = m.url; img.alt = m.alt || ""; img.width = Math.min(m.width, 240);
      body.append(img); break;
    }
    case "video": {
      // A short product clip, played inline (muted until the shopper unmutes, as browsers require
      // for autoplay; here it starts only on a tap).
      const v = document.createElement("video");
      v.src = m.url; v.controls = true; v.playsInline = true; v.preload = "metadata";
      if (m.poster) v.poster = m.poster;
      v.width = Math.min(m.width, 240);
      body.append(v); break;
    }
    case "product": {
      const a = document.createElement("a");
      a.href = m.link; a.target = "_blank"; a.rel = "noopener";
      a.className = "card";
      a.dataset.sku = m.sku;
      // A card sent through agent assist carries `showroom_ref` (a tracking token): the page that
      // shows it reports the click (docs/assist.md, "Conversions").
      try {
        const ref = new URL(m.link).searchParams.get("showroom_ref");
        if (ref) a.addEventListener("click", () => window.dispatchEvent(new CustomEvent("showroom:card-click", { detail: { token: ref, sku: m.sku } })));
      } catch { /* not a URL: validated by the server, so never here */ }
      if (m.image) { const img = document.createElement("img"); img.src = m.image; img.alt = ""; a.append(img); }
      const title = document.createElement("strong"); title.textContent = m.title;
      const price = document.createElement("span"); price.className = "price"; price.textContent = `${m.price} ${m.currency}`;
      a.append(title, price);
      body.append(a); break;
    }
    case "coupon": {
      const code = document.createElement("code"); code.textContent = m.code;
      const until = new Date(m.expires).toLocaleDateString();
      body.append("Coupon ", code, ` — ${m.discount} off, until ${until}`); break;
    }
  }
  li.append(who, body);
  return li;
}
