"""Drives headless Chromium (Debian's chromium and chromium-driver) with
Selenium for the status-page tests. One browser session for the whole
test: commands arrive on stdin, one per line, and each gets one line back
on stdout: `ok`, or `error: ...`.

    open URL
    row ENV SYNC HEALTH SECONDS   wait until the index row of ENV says so
    text TEXT SECONDS             wait until the page's visible text holds TEXT
    screenshot PATH
    size WIDTH HEIGHT             resize the window (a phone: 390 844)
    overflow                      fail if the page is wider than the window
    quit

Waiting never reloads the page: the page reloads itself.
"""

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1100,1400",
):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(check, seconds):
    deadline = time.monotonic() + float(seconds)
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last is True:
                return None
        except Exception as e:  # the page is between two loads
            last = e
        time.sleep(0.2)
    return f"timed out: {last}"


def row(env, sync, health):
    r = driver.find_element(By.CSS_SELECTOR, f'tr[data-environment="{env}"]')
    seen = (r.get_attribute("data-sync"), r.get_attribute("data-health"))
    return True if seen == (sync, health) else seen


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


try:
    for line in sys.stdin:
        words = line.rstrip("\n").split(" ")
        command, args = words[0], words[1:]
        try:
            if command == "open":
                driver.get(args[0])
                say("ok")
            elif command == "row":
                problem = wait(lambda: row(args[0], args[1].replace("_", " "), args[2]), args[3])
                say(f"error: {problem}" if problem else "ok")
            elif command == "text":
                wanted = " ".join(args[:-1])
                problem = wait(lambda: wanted in driver.find_element(By.TAG_NAME, "body").text, args[-1])
                say(f"error: {problem}; page: {driver.find_element(By.TAG_NAME, 'body').text[:2000]!r}" if problem else "ok")
            elif command == "screenshot":
                driver.save_screenshot(args[0])
                say("ok")
            elif command == "size":
                driver.set_window_size(int(args[0]), int(args[1]))
                say("ok")
            elif command == "overflow":
                wide = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
                say("error: the page is wider than the window" if wide else "ok")
            elif command == "quit":
                say("ok")
                break
            else:
                say(f"error: unknown command {command}")
        except Exception as e:
            say(f"error: {e}")
finally:
    driver.quit()
