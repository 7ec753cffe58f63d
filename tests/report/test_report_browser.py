"""The HTML report in a real browser: headless Chromium renders it, every image must load, the console must stay
free of errors, and nothing may be fetched from the network.

Chromium is driven over the Chrome DevTools protocol (a small standard-library WebSocket client below), on a
report rendered from a results directory with real PNGs from :mod:`seqxent.evaluate.plots`. A full-page screenshot is
kept in the test's temporary directory. Skipped when no Chromium is installed (CI installs Debian's
``chromium``; ``SEQXENT_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent.evaluate import plots
from seqxent.evaluate.provenance import collect_provenance
from seqxent.report.html import render_report

CHROMIUM = os.environ.get("SEQXENT_CHROMIUM") or next(
    (path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
         "--remote-debugging-port=0"]
TIMEOUT_S = 30

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")


# --- a minimal WebSocket client (RFC 6455, text frames) and DevTools session ------------------------------

class WebSocket:
    """Client side of a WebSocket: masked text frames out, (fragmented) text frames in."""

    def __init__(self, url: str, timeout: float):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = bytearray()
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        self.buffer = bytearray(rest)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the browser closed the DevTools connection")
        self.buffer += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def send(self, text: str, opcode: int = 0x1) -> None:
        payload = text.encode()
        n = len(payload)
        size = bytes([0x80 | n]) if n < 126 else (
            bytes([0x80 | 126]) + struct.pack("!H", n) if n < 1 << 16 else bytes([0x80 | 127]) + struct.pack("!Q", n))
        mask = os.urandom(4)
        masked = (np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        self.sock.sendall(bytes([0x80 | opcode]) + size + mask + masked)

    def recv(self) -> str:
        parts = []
        while True:
            first, second = self._take(2)
            n = second & 0x7F
            n = struct.unpack("!H", self._take(2))[0] if n == 126 else (
                struct.unpack("!Q", self._take(8))[0] if n == 127 else n)
            data = self._take(n)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode == 0x9:  # ping
                self.send(data.decode(errors="replace"), opcode=0xA)
                continue
            parts.append(data)
            if first & 0x80:
                return b"".join(parts).decode()


class DevTools:
    """Commands and events of one DevTools target (a page)."""

    def __init__(self, url: str):
        self.ws = WebSocket(url, TIMEOUT_S)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)


@contextlib.contextmanager
def chromium(profile: Path):
    """Start headless Chromium with a fresh profile; yield the DevTools URL of its first page; stop it."""
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT_S
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            assert proc.poll() is None, f"Chromium exited with status {proc.returncode}"
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT_S) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        yield pages[0]["webSocketDebuggerUrl"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the browser and its helper processes, started above
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


IMAGES_JS = """Promise.all(Array.from(document.images).map(img => img.decode().then(
    () => ({alt: img.alt, ok: img.complete && img.naturalWidth > 0, width: img.naturalWidth}),
    () => ({alt: img.alt, ok: false, width: img.naturalWidth}))))"""


def inspect_page(page: DevTools, html: Path, screenshot: Path) -> dict:
    """Load ``html``; return its images, console errors, requested URLs, and save a full-page screenshot."""
    page.events.clear()
    page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    page.call("Page.navigate", url=html.resolve().as_uri())
    page.wait_for("Page.loadEventFired")
    images = page.call("Runtime.evaluate", expression=IMAGES_JS, awaitPromise=True, returnByValue=True)
    size = page.call("Page.getLayoutMetrics")["cssContentSize"]
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1})
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    title = page.call("Runtime.evaluate", expression="document.title", returnByValue=True)["result"]["value"]
    return {"title": title, "images": images["result"]["value"], "errors": _errors(page.events),
            "requests": [e["params"]["request"]["url"] for e in page.events
                         if e.get("method") == "Network.requestWillBeSent"]}


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(f"exception: {details.get('text', '')} {details.get('exception', {}).get('description', '')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
    return errors


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium_profile")) as url:
        session = DevTools(url)
        for domain in ("Page", "Runtime", "Log", "Network"):
            session.call(f"{domain}.enable")
        yield session


# --- a results directory like the workflow's, with real figures ---------------------------------------------

def _results_dir(root: Path, name: str, classes: list[str]) -> Path:
    out = root / name
    rng = np.random.default_rng(0)
    k = len(classes)
    matrix = rng.integers(0, 5, size=(k, k)) + np.diag(rng.integers(10, 30, size=k))
    plots.plot_confusion(matrix, classes, out / "plots" / "confusion.png")
    confidence = np.linspace(0.05, 0.95, 10)
    plots.plot_reliability(confidence, np.clip(confidence - 0.05, 0, 1), rng.integers(1, 50, 10),
                           out / "plots" / "reliability.png", ece=0.05)
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.2, 0.8, 0.6], "valid_ce": [1.1, 0.9, 0.85],
                            "valid_accuracy": [0.5, 0.7, 0.75]})
    plots.plot_learning_curves(history, out / "plots" / "learning_curves.png")
    metrics = {
        "dataset": name, "task": "sequence", "split": "test", "label_column": "species", "classes": classes,
        "n_records": int(matrix.sum()), "n_items": int(matrix.sum()),
        "headline": {"accuracy": {"value": 0.81, "ci95": [0.74, 0.87]},
                     "macro_f1": {"value": 0.77, "ci95": [0.7, 0.83]}},
        "metrics": {"accuracy": 0.81, "macro_f1": 0.77, "log_loss_nats": 0.61, "ece": 0.05, "brier": 0.28},
        "per_class": {c: {"precision": 0.8, "recall": 0.7, "f1": 0.75, "support": 12} for c in classes},
        "confusion": {"classes": classes, "matrix": matrix.tolist()},
        "calibration": {"temperature": 1.3, "before": {"ece": 0.09, "nll": 0.7}, "after": {"ece": 0.05, "nll": 0.61}},
        "baselines": {"kmer_logreg": {"accuracy": 0.78, "macro_f1": 0.7}, "majority": {"accuracy": 0.2}},
        "split_summary": {"train": 80, "valid": 10, "test": 10, "excluded": 3, "grouping": "identical sequences"},
        "training": {"epochs_run": 3, "best_epoch": 3, "parameters": 1234},
        "provenance": collect_provenance(seeds={"train": 1, "split": 1}, config={"epochs": 3, "note": "<b>&amp;"},
                                         argv=["seqxent", "evaluate", "--model", "m.pt"]),
    }
    metrics["provenance"].pop("created")
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "timings.json").write_text(json.dumps({"created": "2026-01-01T00:00:00+00:00",
                                                  "training": {"seconds": 12.5},
                                                  "baselines": {"kmer_logreg": {"seconds": 0.4}}}))
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    dirs = [_results_dir(root, "coi_species", ["Osmia bicornis", "Osmia cornuta", "O. <rufa> & co"]),
            _results_dir(root, "coi_country", [f"country {i}" for i in range(25)])]
    for directory in dirs:
        render_report([directory], directory / "report.html", title=f"seqxent: {directory.name}")
    index = render_report(dirs, root / "report.html", config={"datasets": {"coi_species": {"activate": True}}})
    return {"index": index, "dataset": dirs[0] / "report.html"}


@pytest.mark.parametrize("which", ["index", "dataset"])
def test_report_renders_in_chromium(page, reports, which):
    screenshot = reports[which].with_suffix(".png")
    seen = inspect_page(page, reports[which], screenshot)
    expected = 6 if which == "index" else 3
    assert len(seen["images"]) == expected, seen["images"]
    assert all(image["ok"] and image["width"] > 100 for image in seen["images"]), seen["images"]
    assert seen["errors"] == []
    assert all(url.startswith(("file://", "data:")) for url in seen["requests"]), seen["requests"]
    assert seen["title"].startswith("seqxent")
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000, "a screenshot of a page with content"


def test_checker_sees_broken_images_and_console_errors(page, tmp_path):
    """The checks above can fail: a broken image, a script error and a console error are all reported."""
    html = tmp_path / "broken.html"
    html.write_text('<!DOCTYPE html><html><head><title>broken</title></head><body>'
                    '<img alt="broken" src="data:image/png;base64,AAAA"><img alt="missing" src="missing.png">'
                    '<script>console.error("boom"); undefined_function();</script></body></html>')
    seen = inspect_page(page, html, tmp_path / "broken.png")
    assert [image["ok"] for image in seen["images"]] == [False, False]
    assert any("boom" in e for e in seen["errors"])
    assert any("undefined_function" in e for e in seen["errors"])
    assert any("missing.png" in e for e in seen["errors"]), seen["errors"]
