// Showroom desk pages (/workspace, /supervisor, the /shop widget): the desk's HTTP API with a
// Bearer token, demo tokens, the workspace event stream, and DOM building that only ever sets
// text (every string from the wire is hostile until shown with textContent). No build step.
"use strict";

/// A refused request: the HTTP status and the server's reason (`code: reason`).
export class APIError extends Error {
  constructor(status, reason) {
    super(reason || `HTTP ${status}`);
    this.status = status;
  }
}

/// The reason in an error response: Hummingbird's `{"error":{"message":…}}`, else the text.
async function reason(response) {
  const text = (await response.text().catch(() => "")).slice(0, 500);
  try {
    const message = JSON.parse(text)?.error?.message;
    if (typeof message === "string") return `${response.status}: ${message}`;
  } catch { /* not JSON */ }
  return `${response.status}: ${text || response.statusText}`;
}

/// One call of the desk's API; resolves to the JSON body (null for 204), rejects with APIError.
export async function api(token, method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (!r.ok) throw new APIError(r.status, await reason(r));
  return r.status === 204 ? null : r.json();
}

/// A token from `GET /demo-token` (only a server started with --demo hands them out).
export async function demoToken(room, role, identity) {
  const q = new URLSearchParams({ room, role });
  if (identity) q.set("identity", identity);
  const r = await fetch(`/demo-token?${q}`, { cache: "no-store" });
  if (!r.ok) throw new APIError(r.status, `no demo token (${await reason(r)}): add ?token= to the URL`);
  return (await r.text()).trim();
}

/// The subject of a JWT, read without checking it (the server checks; the page only shows it).
export function tokenSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(part)).sub;
    return typeof sub === "string" ? sub : "";
  } catch { return ""; }
}

/// An element with attributes/properties and children; strings become text nodes, never markup.
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    // Attributes without a writable property of the same name (`list` is read-only on inputs).
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "list" || k === "role") e.setAttribute(k, String(v));
    else e[k] = v;
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/// A link only for http(s) URLs; anything else (javascript:, data:, junk) is shown as text.
export function safeLink(url, text) {
  try {
    const u = new URL(String(url));
    if (u.protocol === "http:" || u.protocol === "https:") return el("a", { href: u.href, target: "_blank", rel: "noopener noreferrer", text: text ?? u.href });
  } catch { /* not a URL */ }
  return document.createTextNode(String(url ?? ""));
}

/// The longest prefix of `text` within `bytes` bytes of UTF-8 (the server counts bytes, not
/// characters, against its limits).
export function clip(text, bytes) {
  let n = 0, out = "";
  for (const ch of String(text ?? "")) {
    const cp = ch.codePointAt(0);
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n + size > bytes) break;
    n += size;
    out += ch;
  }
  return out;
}

/// "42 s", "3 min", "1 h 5 min".
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Typing and read receipts for a room's chat without flooding it — the server allows a client 20
/// frames a second, and a frame per keystroke or per message of a backlog passes that (the
/// workspace was cut off with `rate_limited` typing one reply). Typing goes when it turns on (again
/// every 3 s while it stays on: receivers drop it after 5 s) and when it turns off; a read receipt
/// carries the newest seq, at most every 500 ms. `client()` returns the Consultation, or null.
export function courteous(client) {
  let typingAt = 0, readSeq = 0, readTimer = null;
  return {
    typing(on) {
      const now = Date.now();
      if (on ? now - typingAt < 3000 : !typingAt) return;
      typingAt = on ? now : 0;
      client()?.typing(on);
    },
    read(seq) {
      readSeq = Math.max(readSeq, Number(seq) || 0);
      readTimer ??= setTimeout(() => { readTimer = null; client()?.read(readSeq); }, 500);
    },
  };
}

/// The agent's workspace stream (`GET /api/desk/events`, server-sent events) read with fetch —
/// EventSource cannot send an Authorization header. Reconnects with exponential backoff (0.5 s,
/// doubling to 30 s, back to 0.5 s once a `hello` arrives); a stream silent for 45 s (the server
/// writes a keep-alive every 15 s) is treated as dead.
export class DeskStream {
  static maximumEvent = 1 << 20; // a notice larger than this is not the server's: drop the stream

  constructor({ tokenFor, onNotice, onState }) {
    Object.assign(this, { tokenFor, onNotice, onState });
    this.backoff = 500;
    this.stopped = false;
    this.controller = null;
    this.attempts = 0;
  }

  async run() {
    while (!this.stopped) {
      this.controller = new AbortController();
      let watchdog;
      try {
        const token = await this.tokenFor();
        this.onState("connecting", "");
        const r = await fetch("/api/desk/events", {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" }, cache: "no-store", signal: this.controller.signal,
        });
        if (!r.ok) throw new APIError(r.status, await reason(r));
        this.onState("connected", "");
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let pending = "";
        const arm = () => { clearTimeout(watchdog); watchdog = setTimeout(() => this.controller.abort(), 45000); };
        arm();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm();
          pending += decoder.decode(value, { stream: true });
          let end;
          while ((end = pending.indexOf("\n\n")) >= 0) {
            this.dispatch(pending.slice(0, end));
            pending = pending.slice(end + 2);
          }
          if (pending.length > DeskStream.maximumEvent) throw new Error("an event larger than 1 MiB");
        }
        throw new Error("the stream ended");
      } catch (e) {
        if (this.stopped) return;
        this.attempts++;
        const why = e.name === "AbortError" ? "no data for 45 s" : e.message;
        this.onState("reconnecting", `retrying in ${(this.backoff / 1000).toFixed(1)} s — ${why}`);
        await sleep(this.backoff);
        this.backoff = Math.min(this.backoff * 2, 30000);
      } finally {
        clearTimeout(watchdog);
      }
    }
  }

  dispatch(block) {
    let type = "message", data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (!data) return;
    let notice;
    try { notice = JSON.parse(data); } catch { return; }
    if (typeof notice !== "object" || notice === null) return;
    if (type === "hello") this.backoff = 500;
    this.onNotice(type, notice);
  }

  /// Drops the current connection; the loop connects again at once (the backoff is not touched).
  reconnect() { this.controller?.abort(); }

  stop() { this.stopped = true; this.controller?.abort(); }
}
