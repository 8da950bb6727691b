#!/usr/bin/env python3
"""Runs confab's standard benchmark suite and writes the results into docs/.

Usage: python3 bench/suite.py [--quick]

Builds nothing: run `cargo build --release -p confab` and `npm ci` in bench/peers first. Every
run uses `confab bench ... --check --json`; the figures go into the section of
docs/benchmarks.md between the `suite:begin` and `suite:end` markers, and two charts are drawn
as SVG: docs/charts/fanout-p99.svg (p99 against offered load, confab and both peers) and
docs/charts/memory.svg (server memory per session against sessions). The rest of
docs/benchmarks.md (the analysis) is left as written.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
CONFAB = os.path.join(TARGET, "release", "confab")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
CHARTS = os.path.join(ROOT, "docs", "charts")
SERVERS = [("confab", []), ("uWebSockets.js", ["--peer", "uws"]), ("Node ws", ["--peer", "ws"])]
COLOURS = {"confab": "#1f77b4", "uWebSockets.js": "#2ca02c", "Node ws": "#d62728"}


def bench(args):
    """One `confab bench` run; returns its JSON report and the command line."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [CONFAB, "bench", "--check", "--json", out.name] + args
        shown = "confab bench --check " + " ".join(args)
        print("$", shown, file=sys.stderr)
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.load(f), shown


def figure(report, name):
    return dict(report["figures"]).get(name)


def percentiles(report, index=0):
    return report["latency"][index][1]


def line_chart(path, title, x_label, y_label, series, log_y=False):
    """A small SVG line chart: series is {name: [(x, y), ...]}."""
    import math
    width, height, left, bottom, top, right = 640, 360, 70, 50, 40, 150
    points = [p for values in series.values() for p in values]
    if not points:
        return
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs) or 1
    fy = (lambda v: math.log10(max(v, 0.1))) if log_y else (lambda v: v)
    y0, y1 = (fy(min(ys)), fy(max(ys))) if log_y else (0, max(ys) * 1.1 or 1)
    if y1 == y0:
        y1 = y0 + 1
    sx = lambda x: left + (x - x0) / ((x1 - x0) or 1) * (width - left - right)
    sy = lambda y: height - bottom - (fy(y) - y0) / (y1 - y0) * (height - bottom - top)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
           f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">{x_label}</text>',
           f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{y_label}</text>']
    for x in sorted(set(xs)):
        out.append(f'<text x="{sx(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:g}</text>')
    ticks = sorted(set(ys))
    for y in [ticks[0], ticks[len(ticks) // 2], ticks[-1]]:
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
        out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{width - right}" y2="{sy(y):.1f}" stroke="#ddd"/>')
    for i, (name, values) in enumerate(series.items()):
        colour = COLOURS.get(name, "black")
        path_points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(values))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path_points}"/>')
        for x, y in values:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
        out.append(f'<text x="{width - right + 10}" y="{top + 16 + i * 18}" fill="{colour}">{name}</text>')
    out.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    quick = "--quick" in sys.argv
    rates = "1,3,6" if quick else "1,3,6,10,15,20"
    counts = [500, 1000] if quick else [1000, 5000, 10000]
    duration = "2" if quick else "5"
    lines = ["<!-- suite:begin (written by bench/suite.py; edit the script, not this part) -->", ""]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines += [f"Generated on {platform.node()}: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}.", ""]

    lines += ["| scenario | command | figure | p50 | p99 | p99.9 |", "|---|---|---|---|---|---|"]
    for args, name, unit in [
        (["--duration", duration, "durable", "--senders", "16"], "acked_per_sec", "acked msgs/s"),
        (["--duration", duration, "dm", "--pairs", "1"], "round_trips_per_sec", "round trips/s"),
        (["--duration", duration, "history", "--messages", "100000" if not quick else "5000"], "pages_per_sec", "pages/s"),
        (["reconnect", "--clients", "2000" if quick else "10000", "--missed", "10"], "all_back_and_caught_up_s", "s until all caught up"),
    ]:
        report, shown = bench(args)
        p = percentiles(report) if report["latency"] else None
        cells = [f"{p[k]:.2f} ms" for k in ("p50_ms", "p99_ms", "p999_ms")] if p else ["", "", ""]
        lines.append(f"| {report['scenario']} | `{shown}` | {figure(report, name):,.1f} {unit} | " + " | ".join(cells) + " |")
    lines.append("")

    sweep = {}
    lines += ["Fan-out sweep, one room of 100 (p99 by offered msgs/s):", "",
              "| server | command | " + " | ".join(f"{float(r) * 100:g}/s" for r in rates.split(",")) + " |",
              "|---|---|" + "---|" * len(rates.split(",")) ]
    for server, extra in SERVERS:
        report, shown = bench(["--duration", duration] + extra + ["fanout", "--rooms", "1", "--members", "100", "--sweep", rates])
        values = []
        for label, p in report["latency"]:
            offered = float(label.split("_")[1])
            values.append((offered, p["p99_ms"]))
        sweep[server] = values
        cells = [f"{y:.1f} ms" for _, y in values] + [""] * (len(rates.split(",")) - len(values))
        lines.append(f"| {server} | `{shown}` | " + " | ".join(cells) + " |")
    lines += ["", "![p99 against offered load](charts/fanout-p99.svg)", ""]
    line_chart(os.path.join(CHARTS, "fanout-p99.svg"), "Fan-out, one room of 100: p99 latency",
               "offered messages per second", "p99 (ms, log)", sweep, log_y=True)

    memory = {}
    lines += ["Idle sessions (server memory per session):", "",
              "| server | " + " | ".join(f"{c:,}" for c in counts) + " |", "|---|" + "---|" * len(counts)]
    for server, extra in SERVERS:
        values = []
        for count in counts:
            args = ["--duration", "1"] + extra + ["connections", "--count", str(count)]
            if not extra:
                args += ["--users", "50"]
            report, _ = bench(args)
            values.append((count, figure(report, "server_rss_per_session_bytes") / 1024))
        memory[server] = values
        lines.append(f"| {server} | " + " | ".join(f"{y:.1f} KiB" for _, y in values) + " |")
    lines += ["", "![memory per session](charts/memory.svg)", "", "<!-- suite:end -->"]
    line_chart(os.path.join(CHARTS, "memory.svg"), "Server memory per idle session",
               "sessions", "KiB per session", memory)

    with open(DOC) as f:
        text = f.read()
    begin, end = text.find("<!-- suite:begin"), text.find("<!-- suite:end -->")
    block = "\n".join(lines)
    if begin >= 0 and end >= 0:
        text = text[:begin] + block + text[end + len("<!-- suite:end -->"):]
    else:
        text = text.rstrip() + "\n\n## The standard suite\n\n" + block + "\n"
    with open(DOC, "w") as f:
        f.write(text)
    print("wrote", DOC, "and", CHARTS, file=sys.stderr)


if __name__ == "__main__":
    main()
