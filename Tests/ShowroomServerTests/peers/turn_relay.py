"""Showroom with a real TURN server (coturn), all inside the caller's network namespace (which
must hold only `lo`; nftables rules added here stay in it).

1. Credentials: the server's `/ice-servers/{room}` credentials allocate a relay on coturn over UDP
   and over TCP; an expired credential (right MAC, past expiry), a forged one (wrong secret) and a
   tampered one (expiry moved, old MAC) are refused by coturn.
2. `iceTransportPolicy: "relay"`: a Chromium page goes live and another watches, both through
   coturn (the page's `?ice=relay`).
3. A network that lets only TCP to coturn through (nftables: UDP to coturn, TCP to the relay's
   ports — its ICE-TCP — and UDP to them from anything but coturn's relay ports, dropped):
   Chromium with the default policy publishes and watches through TURN over TCP.
4. Glass-to-glass: an aiortc viewer directly, then forced through TURN over UDP and over TCP,
   while an aiortc publisher sends directly, abs-capture-time on every frame (latency.py).

Prints one JSON line with what each step saw.
"""
import argparse, asyncio, base64, hashlib, hmac, json, os, socket, subprocess, sys, tempfile, time, urllib.request


from chromium_common import browser, drop_udp, live_and_watch, wait_healthy

HTTP_PORT, MEDIA_PORT, TURN_PORT = 18080, 40000, 3478
RELAY_PORTS = (20000, 20999)
BASE = f"http://127.0.0.1:{HTTP_PORT}"
SECRET = "turn-test-" + os.urandom(12).hex()
HERE = os.path.dirname(os.path.abspath(__file__))


def get(path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(BASE + path, headers=headers), timeout=10) as r:
        return r.read().decode()


def demo_token(room, role, identity):
    return get(f"/demo-token?room={room}&role={role}&identity={identity}").strip()


def mac(username, secret=SECRET):
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


async def allocate(username, password, transport):
    """Allocates a relay on coturn with these credentials: "ok" or the refusal."""
    from aioice import turn

    class Sink(asyncio.DatagramProtocol):
        pass

    try:
        t, _ = await asyncio.wait_for(
            turn.create_turn_endpoint(Sink, ("127.0.0.1", TURN_PORT), username, password, transport=transport), 10)
        relayed = t.get_extra_info("sockname")
        t.close()
        return f"ok {relayed[1]}"
    except Exception as e:
        text = repr(e)
        return "401" if "401" in text else text[:160]


def credentials_step():
    token = demo_token("turn-room", "viewer", "vic")
    servers = json.loads(get("/ice-servers/turn-room", token))["iceServers"]
    server = servers[0]
    user, password = server["username"], server["credential"]
    expiry, identity = user.split(":", 1)
    now = int(time.time())
    expired = f"{now - 60}:{identity}"
    tampered = f"{int(expiry) + 3600}:{identity}"

    async def run():
        return {
            "urls": server["urls"],
            "issued_udp": await allocate(user, password, "udp"),
            "issued_tcp": await allocate(user, password, "tcp"),
            "expired": await allocate(expired, mac(expired), "udp"),
            "forged": await allocate(user, mac(user, "not-the-secret-at-all"), "udp"),
            "tampered": await allocate(tampered, password, "udp"),
        }
    result = asyncio.run(run())
    result["identity"] = identity
    result["lifetime_s"] = int(expiry) - now
    return result


def block_udp():
    """This namespace's network now lets only TCP to coturn through: UDP to coturn, TCP to the
    relay's media ports (its ICE-TCP) and UDP to them from anything that is not coturn relaying
    (its relay ports) are dropped."""
    return drop_udp([
        f"udp dport {TURN_PORT} drop",
        f"tcp dport {MEDIA_PORT}-{MEDIA_PORT + 63} drop",
        f"udp dport {MEDIA_PORT}-{MEDIA_PORT + 63} udp sport != {RELAY_PORTS[0]}-{RELAY_PORTS[1]} drop",
    ], MEDIA_PORT)


def latency(transport, seconds):
    """latency.py with its viewer forced through TURN over `transport` (None: directly)."""
    publisher = demo_token("turn-latency", "publisher", "pam")
    viewer = demo_token("turn-latency", "viewer", f"val-{transport}")
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "latency.py"), "--url", BASE, "--room", "turn-latency",
         "--publisher-token", publisher, "--viewer-token", viewer, "--seconds", str(seconds)]
        + (["--viewer-turn", transport] if transport else []),
        capture_output=True, text=True, timeout=seconds + 60)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-400:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--showroom", required=True)
    ap.add_argument("--latency-seconds", type=float, default=8)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="showroom-turn-")
    turn = subprocess.Popen(
        ["turnserver", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={TURN_PORT}",
         f"--min-port={RELAY_PORTS[0]}", f"--max-port={RELAY_PORTS[1]}", "--use-auth-secret",
         f"--static-auth-secret={SECRET}", "--realm=showroom", "--no-cli", "--no-tls", "--no-dtls",
         "--allow-loopback-peers", f"--pidfile={data}/turn.pid", f"--db={data}/turndb",
         f"--log-file={data}/turn.log", "--simple-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, SHOWROOM_TURN_SECRET=SECRET)
    server = subprocess.Popen(
        [args.showroom, "serve", "--port", str(HTTP_PORT), "--media-port", str(MEDIA_PORT), "--data-dir", data,
         "--log-level", "warning", "--demo",
         "--turn-url", f"turn:127.0.0.1:{TURN_PORT}?transport=udp", "--turn-url", f"turn:127.0.0.1:{TURN_PORT}?transport=tcp"],
        env=env)
    result = {}
    driver = None
    try:
        if not wait_healthy(BASE, time.monotonic() + 20):
            raise SystemExit("server did not start")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", TURN_PORT), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        result["credentials"] = credentials_step()
        result["latency_direct"] = latency(None, args.latency_seconds)
        result["latency_udp"] = latency("udp", args.latency_seconds)
        result["latency_tcp"] = latency("tcp", args.latency_seconds)
        driver = browser()
        result["forced_relay"] = live_and_watch(driver, BASE, "turn-forced", "&ice=relay")
        result["udp_blocked"] = block_udp()
        result["blocked"] = live_and_watch(driver, BASE, "turn-blocked", "")
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait(10)
        turn.terminate()
        turn.wait(10)
    print(json.dumps(result), flush=True)


main()
