"""A consultation in two headless Chromium instances (two browser contexts) against a Showroom
server, all inside the caller's network namespace (which must hold only `lo`).

The shopper widget (/shop/) and the agent console (/agent/) chat through the UI — a question, a
reply, a product card, a coupon —, the shopper's connection is cut and comes back (resume), and
both sides start video: the widget as it ships (simulcast: three encodings of a 1280×720 fake
camera), the console with `?simulcast=0` (one 640×360 encoding), so both kinds are seen and the
2-core machine encodes four streams, not six. Prints one JSON line with what each page saw.
"""
import argparse, json, subprocess, tempfile, time

from selenium.webdriver.common.by import By

from chromium_common import browser, chat_items as messages, consultation_stats as stats, until, wait_healthy

HTTP_PORT, MEDIA_PORT = 18081, 40001
BASE = f"http://127.0.0.1:{HTTP_PORT}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    args = ap.parse_args()
    result = {}
    data = tempfile.mkdtemp(prefix="showroom-consult-")
    server = subprocess.Popen([args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT),
                               "--data-dir", data, "--log-level", "warning", "--demo"])
    shopper = agent = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        room = "consult-1"
        shopper, agent = browser(), browser()
        # desk=off: the widget as a plain room chat (without the desk, whose bot would answer too).
        shopper.get(f"{BASE}/shop?room={room}&desk=off")
        agent.get(f"{BASE}/agent?room={room}&simulcast=0")
        result["online"] = bool(until(lambda: stats(shopper).get("state") == "online" and stats(agent).get("state") == "online"))

        # A question through the widget's UI, a reply, a product card and a coupon from the console.
        shopper.find_element(By.ID, "text").send_keys("Does the sofa come in blue?")
        shopper.find_element(By.ID, "send").click()
        until(lambda: any("blue?" in m[2] for m in messages(agent)))
        agent.find_element(By.ID, "text").send_keys("It does! Here it is:")
        agent.find_element(By.CSS_SELECTOR, "#composer button").click()
        agent.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        form = agent.find_element(By.ID, "product")
        for name, value in [("sku", "SOFA-3-BLUE"), ("title", "Three-seat sofa, blue"), ("price", "1299.00"),
                            ("link", "https://shop.example/p/sofa-3-blue")]:
            form.find_element(By.NAME, name).send_keys(value)
        form.find_element(By.TAG_NAME, "button").click()
        coupon = agent.find_element(By.ID, "coupon")
        coupon.find_element(By.NAME, "code").send_keys("BLUE10")
        coupon.find_element(By.NAME, "discount").send_keys("10%")
        agent.execute_script("document.querySelector('#coupon [name=expires]').value = '2026-12-31'")
        coupon.find_element(By.TAG_NAME, "button").click()
        until(lambda: len(messages(shopper)) >= 4)

        # The shopper's connection drops; the agent writes meanwhile; the widget resumes.
        # On the way back, a read receipt and typing are asked for before the page's `join` on the
        # new connection (the page's 500 ms read timer can land there):
        # the page must hold them until `joined`, or the server refuses them (`not_joined`).
        shopper.execute_script("""
            const c = window.showroom, receive = c.receive.bind(c);
            c.receive = (m) => { if (m.type === "welcome") { c.read(4); c.typing(true); } receive(m); };
            c.ws.close();""")
        agent.find_element(By.ID, "text").send_keys("Are you still there?")
        agent.find_element(By.CSS_SELECTOR, "#composer button").click()
        until(lambda: len(messages(shopper)) >= 5 and stats(shopper).get("state") == "online")
        result["shopper_reconnects"] = stats(shopper).get("reconnects")

        # Video both ways: each side starts its camera; each decodes the other's.
        shopper.find_element(By.ID, "call").click()
        agent.find_element(By.ID, "call").click()
        until(lambda: stats(shopper).get("framesDecoded", 0) >= 30 and stats(agent).get("framesDecoded", 0) >= 30, seconds=20)
        # The agent watches at `source`: the relay forwards the shopper's largest encoding as it is.
        def largest_sent():
            sizes = [e["size"] for e in stats(shopper).get("encodings") or [] if e.get("size")]
            return max(sizes, key=lambda z: int(z.split("x")[1]), default=None)
        result["agent_sees_largest"] = bool(until(lambda: largest_sent() and stats(agent).get("frameSize") == largest_sent(), seconds=10))
        result.update(shopper_messages=messages(shopper), agent_messages=messages(agent),
                      shopper_stats=stats(shopper), agent_stats=stats(agent),
                      shopper_error=shopper.find_element(By.ID, "error").text, agent_error=agent.find_element(By.ID, "error").text)
    finally:
        for d in (shopper, agent):
            if d:
                d.quit()
        server.terminate()
        server.wait(10)
    print(json.dumps(result), flush=True)


main()
