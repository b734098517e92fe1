"""The consultation desk end to end in headless Chromium, against a Showroom server started with
--demo, all inside the caller's network namespace (which must hold only `lo`).

Two agents (anna, ben) sign in on /workspace, each in a browser of their own; three shoppers open
/shop in three rooms, each in a browser of their own. With `--cluster`, two nodes on a throw-away
PostgreSQL of the script's own: node A starts first and takes the desk, the agents' workspaces and
the supervisor open on A, the shoppers' widgets on B — whose desk calls B forwards to A, and whose
chat the desk on A reads through the store. Every shopper asks the bot an FAQ question,
then asks for a person; the agents accept the offers their inboxes show, reply in each
consultation's tab, one consultation is resolved and its shopper rates it. Everything is read from
the pages' DOM. Prints one JSON line: what each page showed, and `failed` (the first step that did
not happen within its deadline, with what the pages showed instead) or null.
"""
import argparse, json, os, re, shutil, subprocess, tempfile, time, urllib.parse

from selenium.common.exceptions import ElementNotInteractableException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from chromium_common import Postgres, browser, stop_servers, wait_healthy

HTTP_PORT, MEDIA_PORT = 18082, 40002
# With --cluster: the second node (the shoppers'), and the database's port.
SHOP_HTTP_PORT, SHOP_MEDIA_PORT, PG_PORT = 18083, 40030, 55441
BASE = f"http://127.0.0.1:{HTTP_PORT}"
SHOP_BASE = BASE
AGENTS = ["anna", "ben"]
CAPACITY = {"anna": 3, "ben": 2}  # the demo's agents (DeskService.open with demo)
# The third shopper's name is markup: every page must show it as text (and run none of it).
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">'
SHOPPERS = [{"room": f"desk-e2e-{i}", "sku": f"SKU-{i}", "name": f"Shopper{i}" if i < 3 else HOSTILE_NAME} for i in (1, 2, 3)]


class StepFailed(Exception):
    pass


def until(what, predicate, seconds=20):
    """The predicate's first truthy value within `seconds`; else the step fails, saying what the
    predicate saw last."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except (StaleElementReferenceException, ElementNotInteractableException, NoSuchElementException) as e:
            # The page re-rendered between reading and clicking: read again.
            last = type(e).__name__
        time.sleep(0.1)
    raise StepFailed(f"{what}: not within {seconds} s (last seen: {json.dumps(last)[:1500]})")


SHOPPER_VIEW = """
const w = document.getElementById('widget'), s = document.getElementById('desk-status');
return {
  consultation: w.dataset.consultation || null, status: w.dataset.status || null,
  deskStatus: s.hidden ? null : s.textContent,
  messages: [...document.querySelectorAll('#messages li')].map(li => ({seq: Number(li.dataset.seq), cls: li.className, text: li.querySelector('.body').textContent})),
  ratingShown: !document.getElementById('rating').hidden,
  rated: document.getElementById('rated').hidden ? null : document.getElementById('rated').textContent,
  leaveShown: !document.getElementById('leave').hidden,
  error: document.getElementById('error').textContent,
};"""

WORKSPACE_VIEW = """
const text = (e, sel) => (e.querySelector(sel) || {}).textContent || '';
return {
  conn: document.getElementById('conn').dataset.state,
  offers: [...document.querySelectorAll('#offers li.offer')].map(li => ({id: li.dataset.id, countdown: text(li, '.countdown'), sku: text(li, '.sku')})),
  tabs: [...document.querySelectorAll('#tabs .tab')].map(t => ({id: t.dataset.id, label: text(t, '.label'), badge: text(t, '.badge'), cls: t.className})),
  panels: [...document.querySelectorAll('#panels .panel')].map(p => ({
    id: p.dataset.id, hidden: p.hidden, product: text(p, 'dd.product'), status: text(p, 'dd.status'), page: text(p, 'dd.page'),
    messages: [...p.querySelectorAll('.messages li')].map(li => ({cls: li.className, text: li.querySelector('.body').textContent}))})),
  queues: [...document.querySelectorAll('#queues h3')].map(h => h.textContent),
  error: document.getElementById('error').textContent,
};"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--cluster", action="store_true")
    args = ap.parse_args()
    global SHOP_BASE
    started = time.monotonic()
    result = {"failed": None, "steps": [], "shoppers": SHOPPERS, "agents": {a: {} for a in AGENTS},
              "double_offers": [], "owners": {}}
    postgres = Postgres(PG_PORT) if args.cluster else None
    environment = dict(os.environ, SHOWROOM_SECRET="desk-cluster-test-secret-0123456789abcdef")
    database = ["--database", postgres.url] if postgres else []

    directories = []

    def serve(http, media):
        directories.append(tempfile.mkdtemp(prefix="showroom-desk-"))
        return subprocess.Popen([args.showroom, "serve", "--port", str(http), "--media-port", str(media), "--data-dir",
                                 directories[-1], "--log-level", "warning", "--demo"] + database, env=environment)
    servers = [serve(HTTP_PORT, MEDIA_PORT)]
    drivers = {}

    def step(name):
        result["steps"].append([name, round(time.monotonic() - started, 2)])

    def shopper(i):
        return drivers[f"shopper{i}"].execute_script(SHOPPER_VIEW)

    def workspace(agent):
        return drivers[agent].execute_script(WORKSPACE_VIEW)

    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise StepFailed("the server did not start")
        if postgres:
            # A takes the desk first; B, started then, forwards to it.
            until("node A takes the desk", lambda: postgres.sql("SELECT url FROM cluster_desk") == BASE)
            servers.append(serve(SHOP_HTTP_PORT, SHOP_MEDIA_PORT))
            SHOP_BASE = f"http://127.0.0.1:{SHOP_HTTP_PORT}"
            if not wait_healthy(SHOP_BASE, time.monotonic() + 20):
                raise StepFailed("the shoppers' node did not start")
            result["desk_node"], result["shop_node"] = BASE, SHOP_BASE
        for name in AGENTS + [f"shopper{i}" for i in range(len(SHOPPERS))]:
            drivers[name] = browser(console=True)
        step("browsers started")

        # The agents sign in through the page: the demo's agent picker.
        for agent in AGENTS:
            d = drivers[agent]
            d.get(f"{BASE}/workspace")
            Select(d.find_element(By.ID, "agent")).select_by_value(agent)
            d.find_element(By.ID, "signin-button").click()
        for agent in AGENTS:
            # Connected, and the hello's queue notices rendered (the agent is online from here).
            until(f"{agent}'s workspace connects", lambda: (v := workspace(agent))["conn"] == "connected" and v["queues"])
        step("agents signed in")

        # Each shopper asks the bot an FAQ question through the widget.
        for i, s in enumerate(SHOPPERS):
            d = drivers[f"shopper{i}"]
            d.get(f"{SHOP_BASE}/shop?room={s['room']}&sku={s['sku']}&name={urllib.parse.quote(s['name'])}")
            d.find_element(By.ID, "text").send_keys("How long does delivery take?")
            d.find_element(By.ID, "send").click()
        for i, s in enumerate(SHOPPERS):
            bot = until(f"shopper {i} gets the bot's answer",
                        lambda: [m for m in shopper(i)["messages"] if "role-bot" in m["cls"] and "working days" in m["text"]])
            s["bot_answer"] = bot[0]["text"]
            s["consultation"] = shopper(i)["consultation"]
        step("the bot answered every shopper")

        # Each asks for a person: every shopper is told their place, in the chat and above it.
        for i, s in enumerate(SHOPPERS):
            d = drivers[f"shopper{i}"]
            d.find_element(By.ID, "text").send_keys("I'd like to talk to a person please")
            d.find_element(By.ID, "send").click()
        for i, s in enumerate(SHOPPERS):
            line = until(f"shopper {i} sees a queue position in the chat",
                         lambda: [m for m in shopper(i)["messages"] if "role-system" in m["cls"] and re.search(r"number \d+ in the queue", m["text"])])
            s["queue_line"] = line[0]["text"]
            s["queue_status"] = until(f"shopper {i} sees the queue position above the chat",
                                      lambda: (t := shopper(i)["deskStatus"]) and re.search(r"number \d+ in the queue", t) and t)
        step("every shopper saw a queue position")

        # The agents accept what their inboxes offer until all three consultations are held. At no
        # moment may one consultation be offered to, or held by, both agents.
        ids = {s["consultation"] for s in SHOPPERS}
        offers_seen = {a: [] for a in AGENTS}
        countdowns = {a: [] for a in AGENTS}

        def accept_round():
            views = {a: workspace(a) for a in AGENTS}
            claimed = {}
            for a, v in views.items():
                for item in {o["id"] for o in v["offers"]} | {t["id"] for t in v["tabs"] if "ended" not in t["cls"]}:
                    claimed.setdefault(item, []).append(a)
            for item, agents in claimed.items():
                if len(agents) > 1:
                    result["double_offers"].append({"consultation": item, "agents": agents})
            for a, v in views.items():
                for o in v["offers"]:
                    if o["id"] not in offers_seen[a]:
                        offers_seen[a].append(o["id"])
                        countdowns[a].append(o["countdown"])
                    drivers[a].find_element(By.CSS_SELECTOR, f'#offers li.offer[data-id="{o["id"]}"] button.accept').click()
            held = {t["id"] for v in views.values() for t in v["tabs"]}
            return ids <= held
        until("all three consultations are accepted", accept_round, seconds=45)
        for a in AGENTS:
            v = workspace(a)
            result["agents"][a].update(offers_seen=offers_seen[a], countdowns=countdowns[a], tabs=v["tabs"])
        for s in SHOPPERS:
            owners = [a for a in AGENTS if any(t["id"] == s["consultation"] for t in workspace(a)["tabs"])]
            result["owners"][s["consultation"]] = owners
            s["agent"] = owners[0] if owners else None
        step("every consultation accepted")

        # The tab shows the shopper's context; the shopper sees the agent join.
        for i, s in enumerate(SHOPPERS):
            a = s["agent"]
            panel = until(f"{a}'s tab for shopper {i} shows the context",
                          lambda: [p for p in workspace(a)["panels"] if p["id"] == s["consultation"] and p["product"]])[0]
            s["agent_sees_product"], s["agent_sees_page"] = panel["product"], panel["page"]
            s["agent_sees_label"] = [t["label"] for t in workspace(a)["tabs"] if t["id"] == s["consultation"]][0]
            s["joined_line"] = until(f"shopper {i} sees {a} join",
                                     lambda: [m["text"] for m in shopper(i)["messages"] if "role-system" in m["cls"] and "has joined" in m["text"]])[0]
        step("contexts shown, agents joined")

        # Each agent answers in each of its tabs; the shopper answers back.
        for i, s in enumerate(SHOPPERS):
            d = drivers[s["agent"]]
            d.find_element(By.CSS_SELECTOR, f'#tabs .tab[data-id="{s["consultation"]}"]').click()
            panel = f'#panels .panel[data-id="{s["consultation"]}"]'
            until(f"{s['agent']}'s tab for shopper {i} is shown", lambda: d.find_element(By.CSS_SELECTOR, panel).is_displayed())
            d.find_element(By.CSS_SELECTOR, f"{panel} .composer .text").send_keys(f"Hello {s['name']}, about {s['sku']}: reply-{i}")
            d.find_element(By.CSS_SELECTOR, f"{panel} .composer .send").click()
        for i, s in enumerate(SHOPPERS):
            until(f"shopper {i} gets {s['agent']}'s reply",
                  lambda: [m for m in shopper(i)["messages"] if "role-agent" in m["cls"] and f"reply-{i}" in m["text"]])
            drivers[f"shopper{i}"].find_element(By.ID, "text").send_keys(f"Thanks! from-shopper-{i}")
            drivers[f"shopper{i}"].find_element(By.ID, "send").click()
        for i, s in enumerate(SHOPPERS):
            until(f"{s['agent']}'s tab for shopper {i} shows the shopper's answer",
                  lambda: [m for p in workspace(s["agent"])["panels"] if p["id"] == s["consultation"]
                           for m in p["messages"] if f"from-shopper-{i}" in m["text"]])
        step("replies delivered both ways")

        # Nobody sees another room's chat: each page, each tab holds only its own markers.
        for i, s in enumerate(SHOPPERS):
            texts = [m["text"] for m in shopper(i)["messages"]]
            s["foreign"] = [t for t in texts for j in range(len(SHOPPERS)) if j != i and (f"reply-{j}" in t or f"from-shopper-{j}" in t)]
            panel = [p for p in workspace(s["agent"])["panels"] if p["id"] == s["consultation"]][0]
            s["foreign_in_agent_tab"] = [m["text"] for m in panel["messages"] for j in range(len(SHOPPERS))
                                         if j != i and (f"reply-{j}" in m["text"] or f"from-shopper-{j}" in m["text"])]
            s["agent_tab_messages"] = len(panel["messages"])

        # Unread counts: an agent holding two tabs saw a badge on the one not shown; switching to it
        # clears the badge and keeps the other tab's chat.
        for a in AGENTS:
            tabs = workspace(a)["tabs"]
            result["agents"][a]["badges_after_replies"] = [[t["id"], t["badge"]] for t in tabs]
            if len(tabs) >= 2:
                shown = [p for p in workspace(a)["panels"] if not p["hidden"]][0]
                other = [t for t in tabs if t["id"] != shown["id"]][0]
                before = len(shown["messages"])
                drivers[a].find_element(By.CSS_SELECTOR, f'#tabs .tab[data-id="{other["id"]}"]').click()
                drivers[a].find_element(By.CSS_SELECTOR, f'#tabs .tab[data-id="{shown["id"]}"]').click()
                after = [p for p in workspace(a)["panels"] if p["id"] == shown["id"]][0]
                result["agents"][a]["switch"] = {"unread_before": other["badge"], "messages_before": before,
                                                 "messages_after": len(after["messages"]),
                                                 "badge_after": [t["badge"] for t in workspace(a)["tabs"] if t["id"] == other["id"]]}
        step("no room saw another's chat")

        # One agent resolves; the shopper is asked for a rating and gives 4.
        i = 0
        s = SHOPPERS[i]
        d = drivers[s["agent"]]
        d.find_element(By.CSS_SELECTOR, f'#tabs .tab[data-id="{s["consultation"]}"]').click()
        d.find_element(By.CSS_SELECTOR, f'#panels .panel[data-id="{s["consultation"]}"] .actions button.resolve').click()
        result["resolved_tab"] = until(f"{s['agent']}'s tab shows the consultation resolved",
                                       lambda: [[t["cls"], p["status"]] for t in workspace(s["agent"])["tabs"] for p in workspace(s["agent"])["panels"]
                                                if t["id"] == p["id"] == s["consultation"] and "ended" in t["cls"] and p["status"] == "resolved"])[0]
        until(f"shopper {i} is asked for a rating", lambda: shopper(i)["ratingShown"])
        drivers[f"shopper{i}"].find_element(By.CSS_SELECTOR, '#rating button[data-score="4"]').click()
        s["rated"] = until(f"shopper {i}'s rating is taken", lambda: shopper(i)["rated"])
        s["final_status"] = shopper(i)["status"]
        step("resolved and rated")

        # The supervisor's overview, in a second tab of anna's browser (her workspace stays open).
        d = drivers["anna"]
        workspace_tab = d.current_window_handle
        d.switch_to.new_window("tab")
        d.get(f"{BASE}/supervisor")
        d.find_element(By.CSS_SELECTOR, "#signin button").click()
        overview = """return {
          agents: [...document.querySelectorAll('#agents tbody tr')].map(r => ({id: r.dataset.agent, presence: r.querySelector('.presence').textContent, load: r.querySelector('.load-text').textContent})),
          open: Object.fromEntries([...document.querySelectorAll('#counts dd')].map(dd => [dd.dataset.status, dd.textContent])),
          queues: [...document.querySelectorAll('#queues h3')].map(h => h.textContent),
          error: document.getElementById('error').textContent};"""
        result["supervisor"] = until("the supervisor sees both agents online and two active consultations",
                                     lambda: (v := d.execute_script(overview)) and len(v["agents"]) == 2 and v["open"].get("active") == "2"
                                     and all(a["presence"] == "online" for a in v["agents"]) and v)
        # The last hour's figures (one consultation resolved by now) and the staffing forecast.
        figures = """return {
          departments: [...document.querySelectorAll('#figures tbody tr')].map(r => ({department: r.dataset.department, created: r.children[1].textContent})),
          forecast: [...document.querySelectorAll('#forecast h3')].map(h => h.textContent)};"""
        result["supervisor_figures"] = until("the supervisor sees the last hour's figures and a forecast per department",
                                             lambda: (v := d.execute_script(figures)) and any(r["department"] == "sales" and r["created"] != "0" for r in v["departments"])
                                             and len(v["forecast"]) >= 1 and all("peak" in h for h in v["forecast"]) and v)
        d.close()
        d.switch_to.window(workspace_tab)
        step("supervisor overview")
    except StepFailed as e:
        result["failed"] = str(e)
    except Exception as e:  # a driver error: the step that broke, not a traceback in the JSON
        result["failed"] = f"{type(e).__name__}: {str(e)[:500]} (after {result['steps'][-1][0] if result['steps'] else 'start'})"
    finally:
        try:
            result["errors"] = {n: d.find_element(By.ID, "error").text for n, d in drivers.items()}
            # The hostile name ran nowhere and became no element anywhere.
            result["injected"] = {n: d.execute_script("return !!window.pwned || !!document.querySelector('img[src=\"x\"]')")
                                  for n, d in drivers.items()}
            result["final"] = {"shoppers": [shopper(i) for i in range(len(SHOPPERS)) if f"shopper{i}" in drivers],
                               "agents": {a: workspace(a) for a in AGENTS if a in drivers}}
        except Exception as e:
            result["errors"] = {"collecting": str(e)[:300]}
        # What the pages logged as errors (uncaught exceptions, failed requests), favicon aside.
        result["console"] = {}
        for n, d in drivers.items():
            try:
                entries = [e["message"][:300] for e in d.get_log("browser") if e.get("level") == "SEVERE" and "favicon" not in e["message"]]
            except Exception as e:
                entries = [f"no log: {e}"[:300]]
            if entries:
                result["console"][n] = entries
        for d in drivers.values():
            d.quit()
        stop_servers(servers)
        if postgres:
            postgres.stop()
        for d in directories:
            shutil.rmtree(d, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result), flush=True)


main()
