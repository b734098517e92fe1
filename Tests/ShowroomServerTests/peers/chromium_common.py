"""What the Chromium peer scripts share: waiting for the server and starting a headless browser
with a fake camera and microphone (loopback only: the caller's namespace holds only `lo`)."""
import os, pwd, shutil, subprocess, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def stop_servers(servers, grace=10):
    """SIGTERM to every server at once (they stop gracefully together), then SIGKILL to any still
    running after `grace` seconds."""
    for s in servers:
        s.terminate()
    for s in servers:
        try:
            s.wait(grace)
        except subprocess.TimeoutExpired:
            s.kill()


def wait_healthy(base, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


def browser(console=False, extra=()):
    """A headless Chromium; with `console`, its console messages are kept (driver.get_log("browser")).
    `extra`: more command-line flags (a camera file, for one)."""
    options = Options()
    for flag in extra:
        options.add_argument(flag)
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = "/usr/lib/chromium/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
                 "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def stats(driver):
    """The live page's `window.showroomStats` (app.js): frames, audio, the selected candidate."""
    return driver.execute_script("return window.showroomStats") or {}


def live_and_watch(driver, base, room, query, frames=60, dwell=0):
    """Goes live on the live page (`/`) in one tab and watches in another; both pages' stats once
    the viewer decoded `frames` frames and audio (or after 15 s), and `dwell` seconds more (the
    page's glass-to-glass samples, one per displayed frame, accumulate meanwhile)."""
    from selenium.webdriver.common.by import By
    driver.get(f"{base}/?room={room}&simulcast=0{query}")
    driver.find_element(By.ID, "live").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and stats(driver).get("state") != "connected":
        time.sleep(0.1)
    publisher_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(f"{base}/?room={room}&simulcast=0{query}")
    start = time.monotonic()
    driver.find_element(By.ID, "watch").click()
    viewer = {}
    while time.monotonic() - start < 15:
        viewer = stats(driver)
        if viewer.get("framesDecoded", 0) >= frames and viewer.get("audioPacketsReceived", 0) > 0 and viewer.get("candidateType"):
            break
        time.sleep(0.2)
    reached = time.monotonic() - start
    if dwell:
        time.sleep(dwell)
        time.sleep(1.1)  # the page's stats refresh once a second
        viewer = stats(driver)
    viewer = dict(viewer, seconds=reached, error=driver.find_element(By.ID, "error").text)
    driver.close()
    driver.switch_to.window(publisher_tab)
    publisher = dict(stats(driver), error=driver.find_element(By.ID, "error").text)
    driver.find_element(By.ID, "stop").click()
    return {"publisher": publisher, "viewer": viewer}


def drop_udp(matches, probe_port):
    """Adds nftables rules to this network namespace's output: each of `matches` (e.g.
    "udp dport 40000 drop") — how "this network blocks UDP" looks from inside. True when a plain
    UDP send to `probe_port` on 127.0.0.1 now fails (the rules hold)."""
    import socket, subprocess
    subprocess.run(["nft", "add", "table", "inet", "showroom_block"], check=True)
    subprocess.run(["nft", "add", "chain", "inet", "showroom_block", "out", "{ type filter hook output priority 0 ; }"], check=True)
    for match in matches:
        subprocess.run(["nft", "add", "rule", "inet", "showroom_block", "out"] + match.split(), check=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", ("127.0.0.1", probe_port))
        return False
    except PermissionError:
        return True
    finally:
        s.close()


def until(predicate, seconds=15):
    """Polls `predicate` every 100 ms until it returns something true or `seconds` pass; its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def chat_items(driver):
    """The chat as a consultation page (/shop, /agent) shows it: (seq, kind, text) per item."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#messages li')].map(li => [Number(li.dataset.seq), li.className, li.querySelector('.body').textContent])")


def consultation_stats(driver):
    """A consultation page's client counters (consult.js: `window.showroom.stats`)."""
    return driver.execute_script("return window.showroom && window.showroom.stats") or {}


PG = "/usr/lib/postgresql/15/bin"


def as_postgres(command):
    """`command` as the `postgres` user when run as root (initdb refuses root)."""
    return ["/usr/sbin/runuser", "-u", "postgres", "--"] + command if os.getuid() == 0 else command


class Postgres:
    """A throw-away PostgreSQL on 127.0.0.1:`port`, in a temporary directory (the caller's
    namespace): `url` for `--database`, `sql(query)` for a single value, `stop()` at the end."""

    def __init__(self, port):
        self.port = port
        self.directory = tempfile.mkdtemp(prefix="showroom-pg-ns-")
        if os.getuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        subprocess.run(as_postgres([f"{PG}/initdb", "-D", f"{self.directory}/data", "-A", "trust", "-U", "showroom", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        subprocess.run(as_postgres([f"{PG}/pg_ctl", "-D", f"{self.directory}/data", "-l", f"{self.directory}/log", "-w", "-o",
                                    f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]),
                       check=True, capture_output=True, timeout=120)
        self.url = f"postgres://showroom@127.0.0.1:{port}/postgres?sslmode=disable"

    def sql(self, query):
        out = subprocess.run([f"{PG}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "showroom", "-d", "postgres", "-tAc", query],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip() if out.returncode == 0 else None

    def stop(self):
        subprocess.run(as_postgres([f"{PG}/pg_ctl", "-D", f"{self.directory}/data", "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
