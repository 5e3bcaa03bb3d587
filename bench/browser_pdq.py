"""Hashing a 12 MP JPEG in the browser (the self-hash page's JavaScript: decode, PDQ + 8 variants, MD5) vs the
server's PDQ, in the same run.

    nice -n 10 .venv/bin/python bench/browser_pdq.py [--rounds 5] [--image photo.jpg]

The picture is a reference photo (../shared/reference/pdq) scaled to 4000x3000 with some noise, unless
``--image`` is given. The browser is Debian's Chromium, headless, driven by Playwright; the page is served
from 127.0.0.1 with the same static files the web app serves.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "jikimi" / "web" / "static"
SHARED = ROOT.parent / "shared" / "reference" / "pdq"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title>
<script src="spark-md5.min.js"></script><script src="pdq.js"></script><script src="selfhash.js"></script>
<input type="file" id="f">"""
RUN = """async ([rounds]) => {
  const file = document.getElementById("f").files[0];
  const out = {full: [], decode: [], pdq: [], md5: []};
  let last = null;
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    last = await JikimiSelfHash.hashFile(file);
    out.full.push(performance.now() - t);
    t = performance.now();
    const px = await JikimiSelfHash.pixelsOf(file);
    out.decode.push(performance.now() - t);
    t = performance.now();
    JikimiPDQ.hashPixels(px.data, px.width, px.height, 4);
    out.pdq.push(performance.now() - t);
    t = performance.now();
    await JikimiSelfHash.md5OfBlob(file);
    out.md5.push(performance.now() - t);
  }
  return {times: out, hash: last};
}"""


def make_image(out: Path) -> Path:
    src = Image.open(SHARED / "reg-test-input" / "labelme-subset" / "q2821.jpg").convert("RGB")
    big = np.asarray(src.resize((4000, 3000), Image.Resampling.BICUBIC)).astype(np.int16)
    noise = np.random.default_rng(0).integers(-6, 7, big.shape, dtype=np.int16)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def browser_times(image: Path, rounds: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        for name in ("pdq.js", "selfhash.js"):
            shutil.copy(STATIC / name, site / name)
        shutil.copy(STATIC / "vendor" / "spark-md5.min.js", site / "spark-md5.min.js")
        (site / "index.html").write_text(PAGE)
        httpd, base = serve(site)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page()
                page.goto(f"{base}/index.html")
                page.set_input_files("#f", str(image))
                page.evaluate(RUN, [1])  # warm-up (JIT)
                result: dict[str, object] = page.evaluate(RUN, [rounds])
                browser.close()
        finally:
            httpd.shutdown()
    return result


def server_times(image: Path, rounds: int, decode: str) -> tuple[float, str]:
    from jikimi.media import load
    from jikimi.signals.pdq import PDQSignal

    sig = PDQSignal(decode=decode)  # type: ignore[arg-type]
    times, h = [], ""
    for _ in range(rounds + 1):
        t = time.perf_counter()
        res = sig.extract(load(image))
        times.append(time.perf_counter() - t)
        assert isinstance(res, dict)
        h = str(res["hash"])
    return float(np.median(times[1:])), h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--image", type=Path)
    args = ap.parse_args()
    load1 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image or make_image(Path(tmp) / "12mp.jpg")
        with Image.open(image) as im:
            size = im.size
        md5 = hashlib.md5(image.read_bytes()).hexdigest()
        b = browser_times(image, args.rounds)
        std, std_hash = server_times(image, args.rounds, "standard")
        fast, fast_hash = server_times(image, args.rounds, "fast")
    times = b["times"]  # type: ignore[index]
    med = {k: float(np.median(v)) / 1000 for k, v in times.items()}  # type: ignore[union-attr]
    bh = b["hash"]  # type: ignore[index]
    print(
        f"load average {load1:.1f} on {os.cpu_count()} cores; {size[0]}x{size[1]} JPEG, {args.rounds} rounds"
    )
    print(
        f"browser (Chromium) full: {1 / med['full']:.2f} images/s ({med['full'] * 1000:.0f} ms: decode "
        f"{med['decode'] * 1000:.0f} ms, PDQ+8 variants {med['pdq'] * 1000:.0f} ms, "
        f"MD5 {med['md5'] * 1000:.0f} ms)"
    )
    print(f"server PDQ, standard decode: {1 / std:.2f} images/s ({std * 1000:.0f} ms)")
    print(f"server PDQ, fast decode (default): {1 / fast:.2f} images/s ({fast * 1000:.0f} ms)")
    dist = (int(bh["pdq"], 16) ^ int(std_hash, 16)).bit_count()  # type: ignore[index]
    dist_fast = (int(bh["pdq"], 16) ^ int(fast_hash, 16)).bit_count()  # type: ignore[index]
    print(
        f"browser / server standard: x{std / med['full']:.2f} speed; browser hash vs standard {dist} bits, "
        f"vs fast {dist_fast} bits; MD5 equal: {bh['md5'] == md5}"  # type: ignore[index]
    )


if __name__ == "__main__":
    main()
