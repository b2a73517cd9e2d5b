"""Big inputs (issue 11, item 3): how a 250 KiB program's page is served and shown.

Two programs of ~250 KiB, compiled through the real stack (scripts/stack.py: gunicorn,
Redis, the fast- and slow-lane Celery workers, a scratch SQLite database):

  * switch  a 14,000-case switch (14,000 lines, ~28,000 instructions in the assembly);
  * funcs   790 small functions with heap decisions, bounds checks and inlining,
            compiled without "asm" (with it the compiler prints more than the 8 MiB the
            sandbox keeps): ~27,000 decisions.

For each it prints: the permalink page GET /s/<id> (first, uncached render, and the
median of the cached ones), the page's bytes, a chunk of lines and a page of the no-JS
pagination, the result's JSON (whole, and without the listings); then in headless Chromium (Playwright, Debian's chromium)
the permalink page's first contentful paint, DOMContentLoaded and load, the time until
the last line is shown after scrolling the annotated view to its end, how many elements
the page holds after reading it from top to bottom (three screens at a time), and on the
playground (/?copy=<id>, compiled again from the editor: the cached result comes back)
the time from Compile to the decisions in the editor and the editor's typing latency
(keydown to the next frame, median of 20 keys).

    .venv/bin/python scripts/bench_bigpage.py            # both programs
    BIGPAGE_PROGRAMS=switch .venv/bin/python scripts/bench_bigpage.py
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from stack import scratch_stack  # noqa: E402

TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NO_ASM = ["escape", "inline", "wb", "bce", "nil", "loopvar"]


def switch_program(cases: int = 14_000) -> str:
    """One function, one switch of ``cases`` cases, one line each (~227 KiB for 14,000)."""
    body = "".join(f"\tcase {i}: n++\n" for i in range(cases))
    return (
        'package main\n\nimport "fmt"\n\nfunc pick(x int) *int {\n\tn := 0\n\tswitch x {\n'
        + body
        + "\t}\n\treturn &n\n}\n\nfunc main() { fmt.Println(*pick(3)) }\n"
    )


def functions_program(functions: int = 790) -> str:
    """Many small functions: heap decisions, bounds checks, inlining (~250 KiB for 790)."""
    parts = ['package main\n\nimport "fmt"\n\ntype node struct {\n\tval  int\n\tnext *node\n\tbuf  []byte\n}\n']
    for i in range(functions):
        parts.append(
            f"""
func add{i}(a, b int) int {{ return a + b*{i} }}

func make{i}(v int, s []int) *node {{
	n := &node{{val: add{i}(v, s[v%len(s)])}}
	n.buf = make([]byte, v)
	for j := range s {{
		n.val += s[j] * s[len(s)-1-j]
	}}
	return n
}}

func use{i}(xs []int) string {{
	p := make{i}(xs[0], xs)
	return fmt.Sprint(p.val, len(p.buf))
}}
"""
        )
    calls = "\n".join(f"\tfmt.Println(use{i}([]int{{1, 2, 3}}))" for i in range(0, functions, 50))
    parts.append(f"\nfunc main() {{\n{calls}\n}}\n")
    return "".join(parts)


PROGRAMS = {
    "switch": (switch_program, None),
    "funcs": (functions_program, NO_ASM),
}


def request(url: str, payload: dict | None = None) -> tuple[float, bytes]:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json", **AUTH} if data else dict(AUTH)
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=120) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def compile_program(base: str, source: str, groups: list[str] | None) -> str:
    payload: dict = {"source": source, "wait": 10}
    if groups:
        payload["groups"] = groups
    _, body = request(f"{base}/api/v1/compile", payload)
    job = json.loads(body)
    deadline = time.monotonic() + 120
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = json.loads(request(f"{base}/api/v1/compilations/{job['id']}")[1])
    if job["status"] != "done":
        raise SystemExit(f"the program did not compile: {job}")
    return job["id"]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} ms"


def bench_server(base: str, cid: str) -> dict:
    first, page = request(f"{base}/s/{cid}")
    cached = [request(f"{base}/s/{cid}")[0] for _ in range(5)]
    print(f"  GET /s/<id>           first {first:7.0f} ms, cached {ms(cached)}, {len(page):>11,} bytes")
    after = page.split(b'<template class="chunk-shown">', 1)[-1].split(b"</template>", 1)[-1]  # not the shown one's
    if b'class="line-chunk" data-url="' in after:
        chunk_url = after.split(b'class="line-chunk" data-url="', 1)[1].split(b'"', 1)[0].decode().replace("&amp;", "&")
        times = [request(base + chunk_url)[0] for _ in range(5)]
        size = len(request(base + chunk_url)[1])
        print(f"  a chunk of lines      {ms(times)} (cached), {size:>11,} bytes   {chunk_url}")
        times = [request(f"{base}/s/{cid}?page=2")[0] for _ in range(3)]
        size = len(request(f"{base}/s/{cid}?page=2")[1])
        print(f"  GET /s/<id>?page=2    {ms(times)} (cached), {size:>11,} bytes")
    first_json, body = request(f"{base}/api/v1/compilations/{cid}")
    cached_json = [request(f"{base}/api/v1/compilations/{cid}")[0] for _ in range(5)]
    print(f"  result JSON           first {first_json:7.0f} ms, then {ms(cached_json)}, {len(body):>11,} bytes")
    first_json, body = request(f"{base}/api/v1/compilations/{cid}?listings=false")
    cached_json = [request(f"{base}/api/v1/compilations/{cid}?listings=false")[0] for _ in range(5)]
    print(f"  ?listings=false       first {first_json:7.0f} ms, then {ms(cached_json)}, {len(body):>11,} bytes")
    return {"page_ms": first, "page_cached_ms": statistics.median(cached), "page_bytes": len(page)}


# Input latency: from a keydown to the frame after it (the browser has handled the key,
# the editor updated and whatever our code does on a change ran).
KEY_LATENCY_JS = """
() => {
  window.__lat = [];
  document.addEventListener('keydown', (e) => {
    const t0 = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => window.__lat.push(performance.now() - t0), 0));
  }, true);
}
"""


def typing_latency(page) -> list[float]:
    page.evaluate(KEY_LATENCY_JS)
    page.click(".cm-content")
    page.keyboard.press("Control+End")
    for _ in range(20):
        page.keyboard.type("x")
        page.wait_for_timeout(30)
    page.wait_for_timeout(200)
    return page.evaluate("() => window.__lat")


def bench_browser(base: str, cid: str, last_line: int, groups: list[str] | None) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{base}/s/{cid}", wait_until="load")
            timing = page.evaluate(
                """() => {
                  const n = performance.getEntriesByType('navigation')[0];
                  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                  return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, response: n.responseEnd,
                          fcp: fcp ? fcp.startTime : null, nodes: document.getElementsByTagName('*').length};
                }"""
            )
            print(
                f"  browser /s/<id>       response {timing['response']:6.0f} ms, first paint {timing['fcp'] or 0:6.0f} ms,"
                f" DOMContentLoaded {timing['dcl']:6.0f} ms, load {timing['load']:6.0f} ms, {timing['nodes']:,} elements"
            )
            start = time.perf_counter()
            page.evaluate(
                """async (last) => {
                  const body = document.querySelector('#source-body');
                  while (!document.getElementById('L' + last)) {
                    body.scrollTop = body.scrollHeight;
                    await new Promise((r) => setTimeout(r, 20));
                  }
                }""",
                last_line,
            )
            print(
                f"  scroll to the end     last line L{last_line} shown after {(time.perf_counter() - start) * 1000:6.0f} ms"
            )
            # Read from top to bottom, three screens at a time: how many elements the page holds
            # at the end, and at most meanwhile (the chunks scrolled far away are let go).
            page.goto(f"{base}/s/{cid}", wait_until="load")
            start = time.perf_counter()
            read = page.evaluate(
                """async (last) => {
                  const body = document.querySelector('#source-body');
                  let most = 0;
                  for (let i = 0; i < 5000 && !document.getElementById('L' + last); i++) {
                    body.scrollTop += 3 * body.clientHeight;
                    await new Promise((r) => setTimeout(r, 40));
                    most = Math.max(most, document.getElementsByTagName('*').length);
                  }
                  await new Promise((r) => setTimeout(r, 600));
                  return {most, end: document.getElementsByTagName('*').length};
                }""",
                last_line,
            )
            print(
                f"  read to the end       in {(time.perf_counter() - start):5.1f} s, {read['end']:,} elements at the end,"
                f" {read['most']:,} at most"
            )
            start = time.perf_counter()
            page.goto(f"{base}/s/{cid}#L{last_line}", wait_until="load")
            page.wait_for_selector(f"#L{last_line}.is-highlighted", state="attached")
            print(
                f"  open /s/<id>#L{last_line:<6} the line highlighted after {(time.perf_counter() - start) * 1000:6.0f} ms"
            )
            context.close()

            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.add_init_script("localStorage.setItem('escape-explorer:auto-compile', 'off')")
            page.goto(f"{base}/?copy={cid}", wait_until="load")
            page.wait_for_selector(".cm-content")
            if groups:  # the same settings as the permalink's, so the compile finds its result
                page.evaluate(
                    "groups => { for (const box of document.querySelectorAll('input[name=groups]'))"
                    " box.checked = groups.includes(box.value); }",
                    groups,
                )
            start = time.perf_counter()
            page.click("#compile-button")
            page.wait_for_function(
                "() => window.escapeExplorer && window.escapeExplorer.state().shownSeq > 0"
                " && document.querySelector('#result .pane-source')",
            )
            page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
            print(
                f"  playground: Compile -> result and decisions in the editor {(time.perf_counter() - start) * 1000:6.0f} ms"
            )
            lat = typing_latency(page)
            print(
                f"  playground: typing latency (keydown -> next frame) median {statistics.median(lat):5.1f} ms,"
                f" max {max(lat):5.1f} ms"
            )
            context.close()
            # the same on a small program, for comparison (this machine's floor)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.add_init_script("localStorage.setItem('escape-explorer:auto-compile', 'off')")
            page.goto(f"{base}/", wait_until="load")
            page.wait_for_selector(".cm-content")
            page.click("#compile-button")
            page.wait_for_selector("#result .annotated-source", timeout=60_000)
            lat = typing_latency(page)
            print(
                f"  (a small program:      typing latency median {statistics.median(lat):5.1f} ms,"
                f" max {max(lat):5.1f} ms)"
            )
            context.close()
        finally:
            browser.close()


def main() -> None:
    chosen = os.environ.get("BIGPAGE_PROGRAMS", "switch,funcs").split(",")
    with scratch_stack(
        tokens={"bench": TOKEN}, settings={"EXPLORER_TOKEN_LIMIT_FACTOR": "1000"}, prefix="ee-bigpage-"
    ) as stack:
        for name in chosen:
            make, groups = PROGRAMS[name]
            source = make()
            lines = source.count("\n")
            print(f"# {name}: {len(source) / 1024:.0f} KiB, {lines:,} lines{'' if groups is None else ', without asm'}")
            start = time.perf_counter()
            cid = compile_program(stack.base, source, groups)
            print(f"  compiled              {(time.perf_counter() - start) * 1000:7.0f} ms (POST -> done)")
            bench_server(stack.base, cid)
            bench_browser(stack.base, cid, lines, groups)


if __name__ == "__main__":
    main()
