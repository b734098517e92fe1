"""Agent assist end to end in headless Chromium, against a Showroom server started with --demo (its
shop: catalog, scripts, flows, hint rules and the shopper demo-sam's history), inside the caller's
network namespace (which must hold only `lo`).

The agent ben signs in on /workspace; the shopper demo-sam opens /shop about SOFA-1 and asks for
a person; ben accepts. In ben's tab: the profile shows Sam's history; typing `/hi` opens the
script picker and Enter puts the greeting, filled with Sam's and ben's names, in the composer;
it is sent. A draft with a banned word shows a blocking hint and is not sent. Ben sends a
recommended product as a card; the shopper clicks it in the widget; the click is attributed to
the consultation (the server's answer, and the conversion report). Prints one JSON line: what
each page showed, and `failed` (the first step that did not happen in time) or null.
"""
import argparse, json, subprocess, tempfile, time, urllib.request

from selenium.common.exceptions import ElementNotInteractableException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from chromium_common import browser, wait_healthy

HTTP_PORT, MEDIA_PORT = 18083, 40003
BASE = f"http://127.0.0.1:{HTTP_PORT}"
ROOM = "assist-e2e"


class StepFailed(Exception):
    pass


def until(what, predicate, seconds=20):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except (StaleElementReferenceException, ElementNotInteractableException, NoSuchElementException) as e:
            last = type(e).__name__
        time.sleep(0.1)
    raise StepFailed(f"{what}: not within {seconds} s (last seen: {json.dumps(last)[:1500]})")


SHOPPER_VIEW = """
return {
  consultation: document.getElementById('widget').dataset.consultation || null,
  messages: [...document.querySelectorAll('#messages li')].map(li => ({cls: li.className, text: li.querySelector('.body').textContent,
    card: (li.querySelector('a.card') || {}).href || null, sku: (li.querySelector('a.card') || {dataset: {}}).dataset.sku || null})),
  lastClick: window.showroomLastClick ?? null,
  error: document.getElementById('error').textContent,
};"""

PANEL_VIEW = """
const p = document.querySelector('#panels .panel:not([hidden])');
if (!p) return null;
const text = (sel) => (p.querySelector(sel) || {}).textContent || '';
return {
  id: p.dataset.id,
  profile: text('.assist .profile'),
  recommendations: [...p.querySelectorAll('.recommendations li[data-sku]')].map(li => ({sku: li.dataset.sku, text: li.textContent})),
  flow: text('.assist .flow'),
  picker: [...p.querySelectorAll('.picker li')].map(li => li.dataset.code),
  pickerShown: !p.querySelector('.picker').hidden,
  composer: p.querySelector('.composer .text').value,
  flags: [...p.querySelectorAll('.flags li')].map(li => li.textContent),
  hints: [...p.querySelectorAll('.hints li')].map(li => ({rule: li.dataset.rule, cls: li.className, text: li.textContent})),
  messages: [...p.querySelectorAll('.messages li')].map(li => ({cls: li.className, text: li.querySelector('.body').textContent})),
};"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    args = ap.parse_args()
    started = time.monotonic()
    result = {"failed": None, "steps": []}
    data = tempfile.mkdtemp(prefix="showroom-assist-")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--data-dir", data, "--log-level", "warning", "--demo"])
    drivers = {}

    def step(name):
        result["steps"].append([name, round(time.monotonic() - started, 2)])

    def shopper():
        return drivers["shopper"].execute_script(SHOPPER_VIEW)

    def panel():
        return drivers["ben"].execute_script(PANEL_VIEW)

    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise StepFailed("the server did not start")
        drivers["ben"], drivers["shopper"] = browser(console=True), browser(console=True)
        ben, sam = drivers["ben"], drivers["shopper"]
        ben.get(f"{BASE}/workspace")
        Select(ben.find_element(By.ID, "agent")).select_by_value("ben")
        ben.find_element(By.ID, "signin-button").click()
        until("ben's workspace connects", lambda: ben.execute_script("return document.getElementById('conn').dataset.state") == "connected")
        step("agent signed in")

        sam.get(f"{BASE}/shop?room={ROOM}&sku=SOFA-1&shopper=demo-sam&name=Sam%20Rivera&department=sales")
        sam.find_element(By.ID, "text").send_keys("I'd like to talk to a person please")
        sam.find_element(By.ID, "send").click()
        result["consultation"] = until("the consultation opens", lambda: shopper()["consultation"])
        offer = f'#offers li.offer[data-id="{result["consultation"]}"] button.accept'
        until("ben is offered it", lambda: ben.find_elements(By.CSS_SELECTOR, offer))
        ben.find_element(By.CSS_SELECTOR, offer).click()
        until("ben's tab opens", lambda: (p := panel()) and p["id"] == result["consultation"])
        step("consultation accepted")

        # The profile and recommendations of Sam (the demo's history).
        result["profile"] = until("the profile shows Sam's history", lambda: (t := panel()["profile"]) and "Lifetime value" in t and "Viewed" in t and t)
        result["recommendations"] = until("recommendations show", lambda: panel()["recommendations"])
        result["flow"] = until("the sales flow shows", lambda: panel()["flow"])
        step("profile, recommendations and flow shown")

        # `/hi` → the picker → Enter: the greeting filled with Sam's and Ben's names.
        # Typed again if the keystrokes went nowhere (on a loaded machine the tab's panel can still
        # be re-rendered by the consultation's first updates as the keys arrive).
        composer = '#panels .panel:not([hidden]) .composer .text'
        # The searches for `/h` and `/` answer 400 and 800 ms late, after the one for `/hi`: a picker
        # that showed whichever answer came last would list all scripts, `/bye` first (seen in CI).
        ben.execute_script("""
const realFetch = window.fetch;
window.pendingScriptSearches = 0;
window.fetch = async (url, init) => {
  const q = String(url).match(/^\\/api\\/assist\\/scripts\\?q=([^&]*)/);
  if (!q) return realFetch(url, init);
  window.pendingScriptSearches++;
  try {
    const r = await realFetch(url, init);
    if (q[1].length < 2) await new Promise((done) => setTimeout(done, (2 - q[1].length) * 400));
    return r;
  } finally { setTimeout(() => window.pendingScriptSearches--, 200); }  // after the page has used the answer
};""")

        def picker_after_typing():
            p = panel()
            if not p["composer"].startswith("/hi"):
                box = ben.find_element(By.CSS_SELECTOR, composer)
                box.clear()
                box.send_keys("/hi")
                return None
            if ben.execute_script("return window.pendingScriptSearches") != 0:
                return None  # judged once every search has answered, the late ones included
            return p["pickerShown"] and p["picker"] and p["picker"][0] == "hi" and p["picker"]
        result["picker"] = until("the picker lists /hi first", picker_after_typing)
        box = ben.find_element(By.CSS_SELECTOR, composer)
        box.send_keys(Keys.ENTER)
        result["filled"] = until("the composer holds the filled greeting", lambda: (c := panel()["composer"]).startswith("Hi Sam") and c)
        result["flags_after_fill"] = panel()["flags"]
        ben.find_element(By.CSS_SELECTOR, '#panels .panel:not([hidden]) .composer .send').click()
        until("Sam gets the greeting", lambda: [m for m in shopper()["messages"] if "role-agent" in m["cls"] and m["text"].startswith("Hi Sam")])
        step("a script sent with its variables filled")

        # A banned word: the hint blocks, nothing is sent — not even when Enter comes with the last
        # keystroke, before the check that follows typing (250 ms later) has answered.
        box.send_keys("This is our cheapest sofa" + Keys.ENTER)
        result["hints"] = until("a blocking hint shows", lambda: [h for h in panel()["hints"] if "block" in h["cls"]])
        ben.find_element(By.CSS_SELECTOR, '#panels .panel:not([hidden]) .composer .send').click()
        result["composer_after_blocked_send"] = panel()["composer"]
        # Then a harmless line: once it has arrived, anything sent before it would have too.
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys("sentinel: anything else?")
        until("the blocking hint clears", lambda: not [h for h in panel()["hints"] if "block" in h["cls"]])
        ben.find_element(By.CSS_SELECTOR, '#panels .panel:not([hidden]) .composer .send').click()
        until("Sam gets the next line", lambda: [m for m in shopper()["messages"] if "sentinel" in m["text"]])
        result["blocked_reached_shopper"] = [m["text"] for m in shopper()["messages"] if "cheapest" in m["text"]]
        step("a blocking hint kept a reply back")

        # Ben sends the first recommendation as a card; Sam clicks it in the widget.
        first = result["recommendations"][0]["sku"]
        ben.find_element(By.CSS_SELECTOR, f'#panels .panel:not([hidden]) .recommendations li[data-sku="{first}"] button.send-card').click()
        card = until("Sam sees the card", lambda: [m for m in shopper()["messages"] if m["card"] and m["sku"] == first])[0]
        result["card_link"] = card["card"]
        main_window = sam.current_window_handle
        sam.find_element(By.CSS_SELECTOR, f'#messages a.card[data-sku="{first}"]').click()
        sam.switch_to.window(main_window)
        result["click_status"] = until("the click is reported", lambda: shopper()["lastClick"])
        step("a tracked card was clicked")

        # The conversion report attributes the click to ben and the consultation (an admin's demo token).
        with urllib.request.urlopen(f"{BASE}/demo-token?room=desk&role=admin&identity=owner", timeout=5) as f:
            admin = f.read().decode().strip()

        def report():
            r = urllib.request.Request(f"{BASE}/api/reports/conversions", headers={"Authorization": f"Bearer {admin}"})
            with urllib.request.urlopen(r, timeout=5) as f:
                return json.load(f)
        conversions = until("the report counts the click for ben", lambda: (r := report())["conversions"]["byAgent"].get("ben", {}).get("clicks") and r)
        result["report_ben"] = conversions["conversions"]["byAgent"]["ben"]
        result["report_consultation"] = conversions["conversions"]["byConsultation"].get(result["consultation"])
        step("the click counted for the consultation")
        result["errors"] = {name: d.execute_script("return (document.getElementById('error') || {}).textContent || ''") for name, d in drivers.items()}
    except StepFailed as e:
        result["failed"] = str(e)
        try:
            result["last_panel"] = panel()
            result["last_shopper"] = shopper()
        except Exception as e2:  # the page itself is gone
            result["last_seen_error"] = repr(e2)
    except Exception as e:
        result["failed"] = repr(e)
    finally:
        for d in drivers.values():
            try:
                d.quit()
            except Exception:
                pass
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
