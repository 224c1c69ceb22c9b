"""Parts of the browser tests: Debian's Chromium under Playwright, axe-core's check of a page,
and a static site serving the Todo-Backend page from its own origin (another port, so every API
call is cross-origin)."""

import base64
import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support import PROJECT_ROOT, missing_part

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_PATH = "/todobackend.html"
# axe-core, installed by scripts/install-browser (npm; test tooling, never shipped).
AXE_SCRIPT = PROJECT_ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# The page runs the Todo-Backend flow with fetch() against the API root given after `?` (as the
# official runner takes it), records each step in `window.todoBackendSteps` and the list below,
# and sets <body data-state="finished"> when done. Like the runner's jQuery calls, every request
# carries `Content-Type: application/json`, so the browser preflights each one. The flow stops
# at the first request that fails; that step records the error instead of an answer.
TODO_BACKEND_PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Todo-Backend flow</title>
<body data-state="running">
<ol id="steps"></ol>
<script>
"use strict";
const apiRoot = decodeURIComponent(location.search.slice(1));
const steps = [];
window.todoBackendSteps = steps;

function record(step) {
  steps.push(step);
  const item = document.createElement("li");
  item.textContent = JSON.stringify(step);
  document.getElementById("steps").append(item);
}

async function call(name, method, url, data) {
  const init = {method, headers: {"Content-Type": "application/json"}};
  if (data !== undefined) {
    init.body = JSON.stringify(data);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    record({name, method, url, error: error.name, message: error.message});
    throw error;
  }
  const text = await response.text();
  const step = {
    name, method, url,
    status: response.status,
    location: response.headers.get("Location"),
    body: text ? JSON.parse(text) : null,
  };
  record(step);
  return step.body;
}

async function flow() {
  await call("delete all before", "DELETE", apiRoot);
  await call("list after delete all before", "GET", apiRoot);
  const todo = await call("create", "POST", apiRoot, {title: "walk the dog"});
  await call("create with order", "POST", apiRoot, {title: "blah", order: 523});
  await Promise.all([
    call("create first of two at once", "POST", apiRoot, {title: "todo the first"}),
    call("create second of two at once", "POST", apiRoot, {title: "todo the second"}),
  ]);
  await call("list", "GET", apiRoot);
  await call("get by url", "GET", todo.url);
  await call("patch title", "PATCH", todo.url, {title: "bathe the cat"});
  await call("patch completed", "PATCH", todo.url, {completed: true});
  await call("patch order", "PATCH", todo.url, {order: 95});
  await call("get after patches", "GET", todo.url);
  await call("delete one", "DELETE", todo.url);
  await call("list after delete one", "GET", apiRoot);
  await call("delete all", "DELETE", apiRoot);
  await call("list after delete all", "GET", apiRoot);
}

flow()
  .catch(() => {})
  .finally(() => { document.body.dataset.state = "finished"; });
</script>
</body>
</html>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != PAGE_PATH:
            self.send_error(404)
            return
        body = TODO_BACKEND_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows the server log of the API, which is what matters."""


@contextlib.contextmanager
def static_site() -> Iterator[str]:
    """Serve the page on 127.0.0.1 at an ephemeral port; yield the page's URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PAGE_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def chromium() -> Iterator["Browser"]:
    """Debian's Chromium under Playwright; skips (fails in strict mode) when either is missing."""
    if not CHROMIUM.exists():
        missing_part(f"{CHROMIUM} missing: run scripts/install-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_part("Playwright missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def axe_violations(page: "Page") -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now (hidden parts excluded)."""
    if not AXE_SCRIPT.exists():
        missing_part(f"{AXE_SCRIPT} missing: run scripts/install-browser")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated by the DevTools protocol, which the page's CSP does not govern; the page
        # itself could not load a script from elsewhere.
        page.evaluate(AXE_SCRIPT.read_text())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_A_AA
    )
    return [
        {"id": v["id"], "nodes": [node["target"] for node in v["nodes"]]}
        for v in result["violations"]
    ]


# Two PNGs, decoded by the browser itself (no image library in the suite): how many pixels
# differ by more than a trace of anti-aliasing in any channel; -1 when the sizes differ.
_CHANGED_PIXELS = """async ([before, after, threshold]) => {
  const decode = async (base64) => {
    const bytes = Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height);
  };
  const [x, y] = await Promise.all([decode(before), decode(after)]);
  if (x.width !== y.width || x.height !== y.height) return -1;
  let changed = 0;
  for (let i = 0; i < x.data.length; i += 4) {
    for (let channel = 0; channel < 4; channel++) {
      if (Math.abs(x.data[i + channel] - y.data[i + channel]) > threshold) {
        changed++;
        break;
      }
    }
  }
  return changed;
}"""
# Chromium's text anti-aliasing differs by a level or two between runs and machines.
CHANNEL_THRESHOLD = 32


def changed_pixels(page: "Page", before: bytes, after: bytes) -> int:
    """How many pixels of two PNG pictures differ visibly (-1: not even the same size)."""
    encoded = [base64.b64encode(picture).decode("ascii") for picture in (before, after)]
    changed: int = page.evaluate(_CHANGED_PIXELS, [*encoded, CHANNEL_THRESHOLD])
    return changed
