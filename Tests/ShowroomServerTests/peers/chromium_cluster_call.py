"""A consultation call across two Showroom nodes on one PostgreSQL, in two headless Chromium
instances, all inside the caller's network namespace (which must hold only `lo`; the script starts
its own throw-away PostgreSQL there, as the `postgres` user when run as root).

The shopper's widget (/shop/) is opened on node B, the agent's console (/agent/) on node A. They
chat across the nodes (LISTEN/NOTIFY); then each starts its camera. The room's media lives on one
node (placed at the first publish): the page on the other node is answered `elsewhere` and its
client (consult.js) reconnects there, resumes the chat and publishes and subscribes again. Prints
one JSON line with what each page saw and where the room was placed.
"""
import argparse, json, os, shutil, subprocess, tempfile, time

from selenium.webdriver.common.by import By

from chromium_common import Postgres, browser, chat_items, consultation_stats as stats, stop_servers, until, wait_healthy

PG_PORT = 55440
NODES = {"A": (18082, 40010), "B": (18083, 40030)}


def messages(driver):
    """(seq, text) per chat item."""
    return [[seq, text] for seq, _, text in chat_items(driver)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    args = ap.parse_args()
    result = {}
    postgres = Postgres(PG_PORT)
    sql, database = postgres.sql, postgres.url
    environment = dict(os.environ, SHOWROOM_SECRET="cluster-call-test-secret-0123456789abcdef")
    data = {name: tempfile.mkdtemp(prefix=f"showroom-cluster-{name}-") for name in NODES}
    servers = []
    shopper = agent = None
    try:
        for name, (http, media) in NODES.items():
            servers.append(subprocess.Popen(
                [args.showroom, "serve", "--port", str(http), "--media-port", str(media), "--media-threads", "1",
                 "--data-dir", data[name], "--log-level", "warning", "--demo", "--database", database], env=environment))
        for http, _ in NODES.values():
            if not wait_healthy(f"http://127.0.0.1:{http}", time.monotonic() + 30):
                raise SystemExit(f"node on {http} did not start")
        result["registered"] = bool(until(lambda: sql("SELECT count(*) FROM cluster_node") == "2", seconds=20))
        a, b = (f"http://127.0.0.1:{NODES[n][0]}" for n in ("A", "B"))
        room = "cluster-call-1"
        shopper, agent = browser(), browser()
        shopper.get(f"{b}/shop?room={room}&desk=off")
        agent.get(f"{a}/agent?room={room}&simulcast=0")
        result["online"] = bool(until(lambda: stats(shopper).get("state") == "online" and stats(agent).get("state") == "online"))

        # Chat across the nodes, both ways, through the pages' UI.
        shopper.find_element(By.ID, "text").send_keys("Does the sofa come in blue?")
        shopper.find_element(By.ID, "send").click()
        result["agent_got_question"] = bool(until(lambda: any("blue?" in m[1] for m in messages(agent))))
        agent.find_element(By.ID, "text").send_keys("It does, let me show you")
        agent.find_element(By.CSS_SELECTOR, "#composer button").click()
        result["shopper_got_reply"] = bool(until(lambda: any("show you" in m[1] for m in messages(shopper))))

        # The call: the shopper's camera first (its publish places the room), then the agent's.
        shopper.find_element(By.ID, "call").click()
        until(lambda: sql(f"SELECT node FROM cluster_room WHERE room = '{room}'"), seconds=20)
        agent.find_element(By.ID, "call").click()
        until(lambda: stats(shopper).get("framesDecoded", 0) >= 30 and stats(agent).get("framesDecoded", 0) >= 30, seconds=40)
        result["home"] = sql(f"SELECT node FROM cluster_room WHERE room = '{room}'")
        # A last message after the move: the chat goes on from where it was.
        shopper.find_element(By.ID, "text").send_keys("Lovely, thank you")
        shopper.find_element(By.ID, "send").click()
        until(lambda: any("thank you" in m[1] for m in messages(agent)))
        # A WHIP offer from the page on the other node's origin: that node redirects it to the
        # room's (a WHEP offer would be served where it landed, from a pipe), and the browser drops
        # the Authorization header on the way (another origin) — the redirect's ticket must let it
        # in: refused for this offer that is not one (400, or 409: the call's sides publish), not 401.
        other = shopper if result["home"] == a else agent
        result["cross_origin_whip"] = other.execute_async_script("""
            const done = arguments[arguments.length - 1];
            (async () => {
              const t = (await (await fetch('/demo-token?room=""" + room + """&role=publisher')).text()).trim();
              const r = await fetch('/whip/""" + room + """', {method: 'POST', headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + t}, body: 'v=0\\r\\n'});
              done({status: r.status, redirected: r.redirected, url: r.url});
            })().catch(e => done({error: String(e)}));""")
        result.update(a=a, b=b, shopper_messages=messages(shopper), agent_messages=messages(agent),
                      shopper_stats=stats(shopper), agent_stats=stats(agent),
                      shopper_error=shopper.find_element(By.ID, "error").text, agent_error=agent.find_element(By.ID, "error").text)
    finally:
        for d in (shopper, agent):
            if d:
                d.quit()
        stop_servers(servers)
        postgres.stop()
        for d in data.values():
            shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(result), flush=True)


main()
