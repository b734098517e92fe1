// Agent assist in the workspace (docs/assist.md, "Workspace"): beside each consultation's chat,
// the shopper's profile, recommended products (one click sends a tracked card), the guided flow's
// step, live hints under the composer, and the `/` script picker in the composer itself.
"use strict";
import { api, el } from "/desk.js";

const HINT_DELAY_MS = 250; // after the last keystroke, before the draft is checked
const MAX_PICKER_ROWS = 8;
const FLAG_TEXT = {
  unknownVariable: (t) => `${t} is not a known variable`,
  missingValue: (t) => `${t} has no value in this consultation: fill it in`,
  emptyValue: (t) => `${t} is empty here: fill it in`,
  malformed: (t) => `${t} is not a variable`,
  unterminated: (t) => `${t} is missing its closing }}`,
  tooManyPlaceholders: () => "too many placeholders",
};

/// One counter per kind of request. Answers to overlapping requests can come back in any order;
/// only the newest request's answer is shown (an older one would bring back stale rows or hints).
function newestOnly() {
  let latest = 0;
  return { start: () => ++latest, drop: () => { latest++; }, isNewest: (ticket) => ticket === latest };
}

/// Adds assist to a consultation tab. `entry` is the workspace's tab (id, view, client, composer);
/// `input` its composer's text field; `tokenOf()` the agent's workspace token; `onError(text)`.
/// Returns { onMessage(m), beforeSend(text) → false to stop a send, afterSend(), refresh() }.
export function attachAssist(entry, input, { tokenOf, onError }) {
  const id = entry.id;
  const path = (p) => `/api/assist/consultations/${encodeURIComponent(id)}/${p}`;
  const call = (method, p, body) => api(tokenOf(), method, p, body);

  // MARK: the side panel
  const profile = el("div", { class: "profile" }, el("p", { class: "empty", text: "Loading the shopper…" }));
  const recommendations = el("ol", { class: "recommendations" });
  const flow = el("div", { class: "flow", hidden: true });
  const panel = el("aside", { class: "assist" },
    el("h3", { text: "Shopper" }), profile,
    el("h3", { text: "Recommended" }), recommendations,
    flow);

  // MARK: hints and flags under the composer
  const hints = el("ul", { class: "hints", "aria-live": "polite" });
  const flags = el("ul", { class: "flags" });
  const picker = el("ul", { class: "picker", role: "listbox", hidden: true });
  let blocked = false;
  let pending = null; // a script's attachment, sent with the reply
  let hintTimer = null;

  const profileAnswer = newestOnly(), recommendationsAnswer = newestOnly(), flowAnswer = newestOnly();
  const hintsAnswer = newestOnly(), scriptsAnswer = newestOnly();

  async function loadProfile() {
    const ticket = profileAnswer.start();
    try {
      const p = await call("GET", path("shopper"));
      if (!profileAnswer.isNewest(ticket)) return;
      const rows = [];
      if (p.tags?.length) rows.push(el("p", { class: "tags" }, ...p.tags.map((t) => el("span", { class: "tag", text: t }))));
      rows.push(el("p", { class: "ltv", text: `Lifetime value: ${p.lifetimeValue?.length ? p.lifetimeValue.join(", ") : "none yet"}` }));
      const views = (p.profile?.recentViews || []).slice(0, 5);
      rows.push(el("p", { class: "views", text: `Viewed: ${views.length ? views.map((v) => v.title || v.sku).join(", ") : "nothing yet"}` }));
      const cart = p.profile?.cart || [];
      rows.push(el("p", { class: "cart", text: `Cart: ${cart.length ? cart.map((c) => `${c.title || c.sku} ×${c.quantity}`).join(", ") : "empty"}` }));
      const orders = p.profile?.orders || [];
      rows.push(el("p", { class: "orders", text: `Orders: ${orders.length}${orders[0] ? ` (last: ${orders[0].formattedTotals?.join(", ") || ""})` : ""}` }));
      const past = p.pastConsultations || [];
      rows.push(el("p", { class: "past", text: `Before: ${past.length ? past.map((c) => `${c.department} (${c.status})`).join(", ") : "first consultation"}` }));
      profile.replaceChildren(...rows);
    } catch (e) { if (profileAnswer.isNewest(ticket)) profile.replaceChildren(el("p", { class: "empty", text: `No profile: ${e.message}` })); }
  }

  async function loadRecommendations() {
    const ticket = recommendationsAnswer.start();
    try {
      const list = await call("GET", path("recommendations?limit=6"));
      if (!recommendationsAnswer.isNewest(ticket)) return;
      recommendations.replaceChildren(...list.map((r) => {
        const send = el("button", { type: "button", class: "send-card", "data-sku": r.product.sku, text: "Send card",
          onclick: async () => {
            send.disabled = true;
            try { await call("POST", path("send-product"), { sku: r.product.sku }); loadRecommendations(); }
            catch (e) { onError(`send ${r.product.sku}: ${e.message}`); send.disabled = false; }
          } });
        const li = el("li", { "data-sku": r.product.sku },
          el("strong", { text: r.product.title }), el("span", { class: "price", text: ` ${r.price}` }),
          el("small", { class: "reasons", text: (r.reasons || []).join("; ") }), send);
        if (r.product.videos?.length) {
          li.append(el("button", { type: "button", class: "send-clip", text: "Send clip",
            onclick: () => call("POST", path("send-video"), { sku: r.product.sku, index: 0 }).catch((e) => onError(`clip: ${e.message}`)) }));
        }
        return li;
      }));
      if (!list.length) recommendations.replaceChildren(el("li", { class: "empty", text: "Nothing in stock to suggest yet." }));
    } catch (e) {
      if (recommendationsAnswer.isNewest(ticket)) recommendations.replaceChildren(el("li", { class: "empty", text: `No recommendations: ${e.message}` }));
    }
  }

  function renderFlow(f) {
    if (!f) { flow.hidden = true; return; }
    const steps = f.flow.steps || [];
    const at = f.progress.current ?? 0;
    const step = steps[at];
    flow.hidden = false;
    flow.replaceChildren(
      el("h3", { text: `Guide: ${f.flow.title}` }),
      el("ol", { class: "steps" }, ...steps.map((s, i) => el("li", { class: i === at ? "current" : i < at ? "done" : "", text: s.title }))),
      el("p", { class: "guidance", text: f.progress.completed ? "All steps done." : step?.guidance || "" }),
      el("button", { type: "button", class: "flow-back", text: "Back", disabled: at === 0, onclick: () => moveFlow({ back: true }) }),
      el("button", { type: "button", class: "flow-next", text: "Next step", disabled: !!f.progress.completed, onclick: () => moveFlow({}) }));
  }
  async function loadFlow() {
    const ticket = flowAnswer.start();
    try { const f = await call("GET", path("flow")); if (flowAnswer.isNewest(ticket)) renderFlow(f); }
    catch { if (flowAnswer.isNewest(ticket)) flow.hidden = true; }
  }
  async function moveFlow(body) {
    const ticket = flowAnswer.start();
    try { const f = await call("POST", path("flow"), body); if (flowAnswer.isNewest(ticket)) renderFlow(f); }
    catch (e) { onError(`flow: ${e.message}`); }
  }

  const blocks = (list) => list.some((h) => h.severity === "block");
  function renderHints(list) {
    blocked = blocks(list);
    hints.replaceChildren(...list.map((h) => el("li", { class: `hint ${h.severity}`, "data-rule": h.ruleID, "data-kind": h.kind },
      el("strong", { text: h.severity === "block" ? "Blocked: " : h.severity === "warn" ? "Careful: " : "Note: " }),
      h.message, h.suggestion ? el("em", { text: ` — try: ${h.suggestion}` }) : "")));
  }
  /// The hints for `draft` (null when the check failed: hints are advice, a failed check never
  /// stops the agent), shown unless a newer check was started meanwhile.
  async function hintsFor(draft) {
    const ticket = hintsAnswer.start();
    try {
      const list = await call("POST", path("hints"), { draft });
      if (hintsAnswer.isNewest(ticket)) renderHints(list);
      return list;
    } catch { return null; }
  }
  function checkHints() { hintsFor(input.value.startsWith("/") ? "" : input.value); }

  // MARK: the `/` picker
  // Each keystroke starts a search; only the newest one's answer is shown (an older one, for `/h`
  // arriving after `/hi`'s, would list other scripts first).
  let rows = [], selected = 0;
  async function searchScripts(q) {
    const ticket = scriptsAnswer.start();
    try {
      const list = await call("GET", `/api/assist/scripts?q=${encodeURIComponent(q)}&consultation=${encodeURIComponent(id)}`);
      if (!scriptsAnswer.isNewest(ticket)) return;
      rows = list.slice(0, MAX_PICKER_ROWS); selected = 0;
      picker.replaceChildren(...rows.map((s, i) => el("li", { role: "option", class: i === 0 ? "selected" : "", "data-code": s.shortCode,
        onmousedown: (e) => { e.preventDefault(); choose(i); } },
        el("code", { text: `/${s.shortCode}` }), ` ${s.title}`)));
      picker.hidden = rows.length === 0;
    } catch (e) { if (scriptsAnswer.isNewest(ticket)) { picker.hidden = true; onError(`scripts: ${e.message}`); } }
  }
  async function choose(i) {
    const s = rows[i];
    scriptsAnswer.drop();  // a search still under way must not open the picker again over the chosen script
    picker.hidden = true;
    if (!s) return;
    try {
      const r = await call("POST", path("render"), { shortCode: s.shortCode });
      input.value = r.text;
      pending = r.script.attachment && r.script.attachment.type !== "none" ? r.script.attachment : null;
      flags.replaceChildren(...(r.flags || []).map((f) => el("li", { class: `flag ${f.kind}`, "data-name": f.name || "",
        text: FLAG_TEXT[f.kind] ? FLAG_TEXT[f.kind](f.text) : `${f.text}: ${f.kind}` })));
      input.focus();
      checkHints();
    } catch (e) { onError(`/${s.shortCode}: ${e.message}`); }
  }
  input.addEventListener("keydown", (e) => {
    if (picker.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      selected = (selected + (e.key === "ArrowDown" ? 1 : rows.length - 1)) % rows.length;
      [...picker.children].forEach((li, i) => li.classList.toggle("selected", i === selected));
    } else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); choose(selected); }
    else if (e.key === "Escape") picker.hidden = true;
  });
  input.addEventListener("input", () => {
    const v = input.value;
    if (v.startsWith("/") && !v.includes(" ")) searchScripts(v.slice(1)); else { scriptsAnswer.drop(); picker.hidden = true; }
    if (!v.includes("{{")) flags.replaceChildren();
    clearTimeout(hintTimer);
    hintTimer = setTimeout(checkHints, HINT_DELAY_MS);
  });

  function refresh() { loadProfile(); loadRecommendations(); loadFlow(); checkHints(); }
  refresh();

  return {
    panel, hints, flags, picker,
    /// A message arrived in the room: the shopper's words change hints, mentions change recommendations.
    onMessage(m) {
      if (m.role === "shopper") { checkHints(); loadRecommendations(); }
      if (m.role === "agent" && m.kind === "product") loadRecommendations();
    },
    /// False (and the reason shown) when a variable is unfilled or a hint blocks this very text:
    /// the hints are checked again for what is sent, so a reply typed faster than the check after
    /// the last keystroke, or an older check answering last, cannot slip a blocked wording through.
    async beforeSend(text) {
      if (/\{\{[^}]*\}\}/.test(text)) { onError("the reply still has an unfilled {{variable}}"); return false; }
      clearTimeout(hintTimer);
      const list = await hintsFor(text);
      if (list ? blocks(list) : blocked) {
        onError("a hint blocks this reply: change the wording first");
        return false;
      }
      return true;
    },
    /// After a reply went out: its script's attachment follows it, and the hints are checked again.
    async afterSend() {
      flags.replaceChildren();
      const a = pending; pending = null;
      if (a?.type === "productCard" && a.sku) await call("POST", path("send-product"), { sku: a.sku }).catch((e) => onError(`card: ${e.message}`));
      if (a?.type === "coupon" && a.code) await call("POST", path("send-coupon"), { code: a.code, description: a.description || "" }).catch((e) => onError(`coupon: ${e.message}`));
      checkHints();
    },
    refresh,
  };
}
