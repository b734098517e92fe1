"""What the Chromium peer scripts share: waiting for the server and starting a headless browser
with a fake camera and microphone (loopback only: the caller's namespace holds only `lo`)."""
import time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def wait_healthy(base, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


def browser(console=False):
    """A headless Chromium; with `console`, its console messages are kept (driver.get_log("browser"))."""
    options = Options()
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = "/usr/lib/chromium/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
                 "--autoplay-policy=no-user-gesture-required", "--disable-dev-shm-usage"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
