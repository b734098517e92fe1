// The agent workspace (/workspace, docs/desk.md "Workspace"): the desk's event stream feeds an
// inbox of offers, the department queues and one tab per consultation held, each with its own
// /ws chat (consult.js) on the room token the desk sent with `assigned`.
"use strict";
import { Consultation, renderMessage } from "/consult.js";
import { api, courteous, demoToken, tokenSubject, el, safeLink, duration, DeskStream } from "/desk.js";
import { attachAssist } from "/assist.js";

// Bounds: what one page renders, whatever the server or a shopper sends.
const MAX_MESSAGES = 200; // per consultation; older ones leave the top (the room keeps them)
const MAX_QUEUE_ROWS = 50; // per department; the heading says how many more wait
const MAX_OFFERS = 20; // the desk offers one at a time; this is only a guard
const MAX_TABS = 30; // past it, the oldest ended tabs close

const $ = (id) => document.getElementById(id);
const given = new URLSearchParams(location.search).get("token");
let agentID = null;
let token = given;
let stream = null;
let current = null; // the consultation id whose tab is shown
let wantedPresence = "online";
const held = new Map(); // consultation id → tab entry
const offers = new Map(); // consultation id → {view, until, li, countdown}
const queues = new Map(); // department → [ConsultationView]
const leftMessages = new Map(); // department → [ConsultationView] (status missed)
const STATUS = { active: "active", on_hold: "on hold", resolved: "resolved", abandoned: "the shopper left", queued: "queued", offered: "offered", bot: "with the bot", missed: "left a message" };

function showError(text) { $("error").textContent = `${new Date().toLocaleTimeString()} — ${text}`; }
$("error").addEventListener("click", () => { $("error").textContent = ""; });

const isView = (v) => v && typeof v === "object" && typeof v.id === "string" && typeof v.room === "string";

// MARK: signing in and the stream

async function workspaceToken() {
  // A demo token per connection: they last an hour, the workspace may stay open longer.
  if (!given) token = await demoToken("desk", "agent", agentID);
  return token;
}

function signIn(identity) {
  stream?.stop();
  for (const entry of held.values()) entry.client.close();
  held.clear(); offers.clear(); queues.clear(); current = null;
  $("tabs").replaceChildren(); $("panels").replaceChildren(el("p", { id: "no-tab", class: "empty", text: "No consultation yet: accept an offer or pick one from a queue." }));
  renderOffers(); renderQueues();
  agentID = identity;
  $("who").textContent = `Signed in as ${identity}`;
  $("presence").disabled = false;
  $("presence").value = wantedPresence = "online";
  stream = new DeskStream({ tokenFor: workspaceToken, onNotice, onState });
  stream.run();
}

function onState(state, detail) {
  $("conn").dataset.state = state;
  $("conn").textContent = detail ? `${state} (${detail})` : state;
}

function onNotice(type, n) {
  const v = isView(n.consultation) ? n.consultation : null;
  switch (type) {
    case "hello": {
      // After a reconnect: offers made before it were withdrawn; `assigned` follows for each held.
      offers.clear();
      const still = new Set((Array.isArray(n.held) ? n.held : []).filter(isView).map((h) => h.id));
      for (const entry of held.values()) if (!entry.ended && !still.has(entry.id)) end(entry, "no longer yours");
      // Connecting sets the agent online; an agent who chose away or offline stays so.
      if (wantedPresence !== "online") setPresence(wantedPresence);
      break;
    }
    case "offer":
      if (v && offers.size < MAX_OFFERS) offers.set(v.id, { view: v, until: Date.parse(n.until) || Date.now() });
      break;
    case "offer_withdrawn":
      if (v) offers.delete(v.id);
      break;
    case "assigned":
      if (v && typeof n.roomToken === "string") { offers.delete(v.id); openTab(v, n.roomToken); }
      break;
    case "revoked":
      if (v && held.has(v.id)) end(held.get(v.id), gone(v), v);
      break;
    case "ended":
      if (v && held.has(v.id)) end(held.get(v.id), STATUS[v.status] || "ended", v);
      break;
    case "overdue":
      if (v && held.has(v.id)) { const e = held.get(v.id); e.overdue = Number(n.targetsMissed) || 1; renderTab(e); }
      break;
    case "queue":
      if (typeof n.department === "string" && Array.isArray(n.queue)) {
        queues.set(n.department, n.queue.filter(isView));
        leftMessages.set(n.department, Array.isArray(n.messages) ? n.messages.filter(isView) : []);
        renderQueues();
        const known = $("known-departments");
        if (![...known.options].some((o) => o.value === n.department)) known.append(el("option", { value: n.department }));
      }
      break;
  }
  renderOffers();
}

async function setPresence(presence) {
  try { await api(token, "POST", "/api/desk/presence", { presence }); } catch (e) { showError(`presence: ${e.message}`); }
}

$("signin").addEventListener("submit", (e) => { e.preventDefault(); signIn($("agent").value); });
$("presence").addEventListener("change", () => { wantedPresence = $("presence").value; setPresence(wantedPresence); });
if (given) {
  $("signin").hidden = true;
  signIn(tokenSubject(given) || "agent");
}

// MARK: offers and queues

function renderOffers() {
  const ul = $("offers");
  // Rebuilt only when the set changes (not every second): a button under the pointer stays put.
  const shown = [...ul.querySelectorAll("li.offer")].map((li) => li.dataset.id).join();
  if (shown === [...offers.keys()].join() && (offers.size || ul.querySelector(".empty"))) return tick();
  ul.replaceChildren();
  for (const [id, o] of offers) {
    o.countdown = el("span", { class: "countdown" });
    o.li = el("li", { class: "offer", "data-id": id },
      el("strong", { text: o.view.shopperName }), " ",
      el("span", { class: "sku", text: o.view.context?.sku || "no product" }), " ",
      el("span", { class: "dept", text: o.view.department }), " ", o.countdown,
      el("button", { type: "button", class: "accept", text: "Accept", onclick: () => offerCommand(id, "accept") }),
      el("button", { type: "button", class: "decline", text: "Decline", onclick: () => offerCommand(id, "decline") }));
    ul.append(o.li);
  }
  if (!offers.size) ul.append(el("li", { class: "empty", text: "No offers." }));
  tick();
}

async function offerCommand(id, command) {
  try {
    await api(token, "POST", `/api/desk/consultations/${encodeURIComponent(id)}/${command}`);
    offers.delete(id);
    renderOffers();
  } catch (e) { showError(`${command}: ${e.message}`); }
}

function renderQueues() {
  const box = $("queues");
  box.replaceChildren();
  for (const [department, list] of [...queues].sort(([a], [b]) => a.localeCompare(b))) {
    const more = list.length > MAX_QUEUE_ROWS ? ` (showing ${MAX_QUEUE_ROWS})` : "";
    const ol = el("ol", { class: "rows queue", "data-department": department });
    for (const v of list.slice(0, MAX_QUEUE_ROWS)) {
      ol.append(el("li", { "data-id": v.id, class: v.status },
        el("span", { class: "pos", text: `#${v.position ?? "?"}` }), " ",
        el("strong", { text: v.shopperName }), " ",
        el("span", { class: "sku", text: v.context?.sku || "" }), " ",
        el("span", { class: "waited", "data-since": v.queued || v.created }), " ",
        v.status === "offered" ? el("em", { text: "offered" }) : el("button", { type: "button", class: "pick", text: "Pick", onclick: () => pick(v.id) })));
    }
    if (!list.length) ol.append(el("li", { class: "empty", text: "Nobody waiting." }));
    box.append(el("h3", { text: `${department} — ${list.length} waiting${more}` }), ol);
    // Messages shoppers left instead of waiting: picked like a queued consultation.
    const left = leftMessages.get(department) || [];
    if (left.length) {
      const ml = el("ol", { class: "rows messages-left", "data-department": department });
      for (const v of left.slice(0, MAX_QUEUE_ROWS)) {
        ml.append(el("li", { "data-id": v.id, class: "missed" },
          el("strong", { text: v.shopperName }), " ",
          el("span", { class: "sku", text: v.context?.sku || "" }), " ",
          el("button", { type: "button", class: "pick", text: "Reply", onclick: () => pick(v.id) })));
      }
      box.append(el("h4", { text: `${department} — ${left.length} left a message` }), ml);
    }
  }
  if (!queues.size) box.append(el("p", { class: "empty", text: "No queue yet." }));
  tick();
}

async function pick(id) {
  try { await api(token, "POST", `/api/desk/consultations/${encodeURIComponent(id)}/pick`); } catch (e) { showError(`pick: ${e.message}`); }
}

// Once a second: countdowns and waiting times, in place.
function tick() {
  const now = Date.now();
  let lapsed = false;
  for (const [id, o] of offers) {
    const left = (o.until - now) / 1000;
    if (left < -2) { offers.delete(id); lapsed = true; continue; } // the server withdraws it on its next tick
    if (o.countdown) o.countdown.textContent = `${Math.max(0, Math.ceil(left))} s left`;
  }
  if (lapsed) return renderOffers();
  for (const span of document.querySelectorAll(".waited[data-since]")) {
    const since = Date.parse(span.dataset.since);
    span.textContent = Number.isNaN(since) ? "" : `waiting ${duration((now - since) / 1000)}`;
  }
}
setInterval(tick, 1000);

// MARK: consultation tabs

function openTab(view, roomToken) {
  let entry = held.get(view.id);
  if (entry && !entry.ended) { // a reconnect's `assigned`: a fresh room token for the same chat
    entry.roomToken = roomToken;
    return update(entry, view);
  }
  if (entry) closeTab(entry); // ended, and now assigned again: a fresh tab
  entry = { id: view.id, view, roomToken, unread: 0, overdue: 0, ended: null };
  entry.label = el("span", { class: "label" });
  entry.badge = el("span", { class: "badge" });
  entry.tab = el("button", { type: "button", class: "tab", "data-id": view.id, onclick: () => select(view.id) }, entry.label, entry.badge);
  buildPanel(entry);
  $("tabs").append(entry.tab);
  $("no-tab")?.remove();
  $("panels").append(entry.panel);
  held.set(view.id, entry);
  entry.courtesy = courteous(() => entry.ended ? null : entry.client);
  // The whole room from its start (the shopper's talk with the bot too), not from a resume point.
  sessionStorage.removeItem(`showroom.lastSeq.${view.room}`);
  entry.client = new Consultation({
    room: view.room, role: "agent",
    tokenFor: async () => entry.roomToken,
    onMessage: (m) => message(entry, m),
    onState: (s) => { if (!entry.ended) entry.chatState.textContent = `chat ${s}`; },
    onEvent: (type, m) => {
      if (type === "typing") { // shown for 5 s past the last "on" (a sender repeats it every 3 s)
        entry.typing.hidden = !m.on;
        clearTimeout(entry.typingTimer);
        entry.typingTimer = setTimeout(() => { entry.typing.hidden = true; }, 5000);
      }
      if (type === "error") showError(`${view.shopperName}: ${typeof m === "string" ? m : `${m.code}: ${m.reason}`}`);
    },
  });
  entry.client.start();
  update(entry, view);
  if (!current || held.get(current)?.ended) select(view.id);
  // Bounded tabs: the oldest ended ones go.
  for (const e of held.values()) if (held.size > MAX_TABS && e.ended) closeTab(e);
}

function buildPanel(entry) {
  const id = entry.id;
  entry.context = el("dl", { class: "context" });
  entry.hold = el("button", { type: "button", class: "hold", onclick: () => command(entry, entry.view.status === "on_hold" ? "resume" : "hold") });
  const agent = el("input", { list: "known-agents", placeholder: "agent id", maxLength: 64, required: true });
  const department = el("input", { list: "known-departments", placeholder: "department", maxLength: 64, required: true });
  entry.actions = el("div", { class: "actions" },
    entry.hold,
    el("button", { type: "button", class: "resolve", text: "Resolve", onclick: () => command(entry, "resolve") }),
    el("form", { class: "transfer", onsubmit: (e) => { e.preventDefault(); command(entry, "transfer", { agent: agent.value.trim() }); } },
      agent, el("button", { text: "Transfer to agent" })),
    el("form", { class: "requeue", onsubmit: (e) => { e.preventDefault(); command(entry, "requeue", { department: department.value.trim() }); } },
      department, el("button", { text: "Transfer to department" })));
  entry.closeButton = el("button", { type: "button", class: "close", text: "Close tab", hidden: true, onclick: () => closeTab(entry) });
  entry.messages = el("ol", { class: "messages", "aria-live": "polite" });
  entry.typing = el("div", { class: "typing", text: "the shopper is typing…", hidden: true });
  const input = el("input", { class: "text", autocomplete: "off", placeholder: "Reply…", maxLength: 4000 });
  input.addEventListener("input", () => entry.courtesy.typing(input.value.length > 0));
  entry.composer = el("form", {
    class: "composer",
    onsubmit: async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text || entry.ended || entry.sending) return;  // one reply at a time: Enter twice sends once
      entry.sending = true;
      try {
        if (!(await entry.assist.beforeSend(text)) || entry.ended) return;
        entry.client.send({ kind: "text", text });
        entry.courtesy.typing(false);
        if (input.value.trim() === text) input.value = "";  // what was typed during the check stays
        entry.assist.afterSend();
      } finally { entry.sending = false; }
    },
  }, input, el("button", { class: "send", text: "Send" }));
  entry.chatState = el("span", { class: "state", text: "chat connecting" });
  // Agent assist (assist.js): profile, recommendations and flow beside the chat; the `/` picker,
  // flags and hints with the composer.
  entry.assist = attachAssist(entry, input, { tokenOf: () => token, onError: showError });
  entry.panel = el("section", { class: "panel", "data-id": id, hidden: true },
    el("div", { class: "panel-head" }, entry.context, entry.chatState), entry.actions, entry.closeButton,
    el("div", { class: "panel-body" },
      el("div", { class: "conversation" }, entry.messages, entry.typing, entry.assist.picker, entry.assist.flags, entry.assist.hints, entry.composer),
      entry.assist.panel));
}

function message(entry, m) {
  entry.assist?.onMessage(m);
  const li = renderMessage(m, entry.client.me);
  entry.messages.append(li);
  while (entry.messages.children.length > MAX_MESSAGES) entry.messages.firstElementChild.remove();
  const mine = m.from === entry.client.me?.identity;
  if (mine) entry.overdue = 0;
  if (current === entry.id) { entry.messages.scrollTop = 1e9; entry.courtesy.read(m.seq); }
  else if (!mine && m.role !== "system") entry.unread++;
  renderTab(entry);
}

function select(id) {
  current = id;
  for (const e of held.values()) {
    e.panel.hidden = e.id !== id;
    e.tab.classList.toggle("active", e.id === id);
  }
  const entry = held.get(id);
  if (!entry) return;
  entry.unread = 0;
  if (entry.client.lastSeq) entry.courtesy.read(entry.client.lastSeq);
  entry.messages.scrollTop = 1e9;
  renderTab(entry);
}

function renderTab(entry) {
  const v = entry.view;
  entry.label.textContent = `${v.shopperName} · ${v.context?.sku || v.room}`;
  entry.badge.textContent = entry.unread ? String(entry.unread) : "";
  entry.badge.hidden = !entry.unread;
  entry.tab.classList.toggle("on-hold", v.status === "on_hold");
  entry.tab.classList.toggle("ended", !!entry.ended);
  entry.tab.classList.toggle("overdue", entry.overdue > 0 && !entry.ended);
  entry.tab.title = entry.overdue ? `a reply is overdue (${entry.overdue} targets missed)` : "";
}

function update(entry, view) {
  entry.view = view;
  const c = view.context || {};
  const rows = [
    ["Shopper", view.shopperName],
    ["Product", c.sku || "—"],
    ["Page", c.pageURL ? safeLink(c.pageURL) : "—"],
    ["Locale", c.locale || "—"],
    ["Department", view.department],
    ["Status", entry.ended || STATUS[view.status] || view.status],
  ];
  entry.context.replaceChildren(...rows.flatMap(([k, value]) => [el("dt", { text: k }), el("dd", { class: k.toLowerCase() }, value)]));
  entry.hold.textContent = view.status === "on_hold" ? "Resume" : "Hold";
  renderTab(entry);
}

/// hold, resume, resolve, transfer {agent}, requeue {department}: the answer is the consultation.
async function command(entry, name, body) {
  try {
    const v = await api(token, "POST", `/api/desk/consultations/${encodeURIComponent(entry.id)}/${name}`, body);
    if (!isView(v)) return;
    if (v.status === "resolved" || v.status === "abandoned") end(entry, STATUS[v.status], v);
    else if (name === "transfer" || name === "requeue") end(entry, gone(v), v);
    else update(entry, v);
  } catch (e) { showError(`${name}: ${e.message}`); }
}

/// Why a consultation left this agent, from how it looks now (the `revoked` notice and the
/// command's answer may come in either order).
function gone(v) {
  if (v.status === "queued" || v.status === "offered") return `back in the ${v.department} queue`;
  if (v.assignee && v.assignee !== agentID) return `transferred to ${v.assignee}`;
  return "no longer yours";
}

/// The consultation is no longer the agent's: its chat stays readable until the tab is closed.
function end(entry, why, view) {
  if (entry.ended) return update(entry, view || entry.view); // the first reason stays ("transferred to ben", then `revoked`)
  entry.client.close();
  entry.ended = why;
  for (const control of entry.panel.querySelectorAll(".actions button, .actions input, .composer input, .composer button")) control.disabled = true;
  entry.closeButton.hidden = false;
  entry.typing.hidden = true;
  entry.chatState.textContent = "chat closed";
  update(entry, view || entry.view);
}

function closeTab(entry) {
  entry.client.close();
  entry.tab.remove();
  entry.panel.remove();
  held.delete(entry.id);
  if (current === entry.id) {
    current = null;
    const next = [...held.values()].find((e) => !e.ended) || [...held.values()][0];
    if (next) select(next.id);
  }
}

window.workspace = { held, offers, queues }; // for the curious (tests read the DOM)
