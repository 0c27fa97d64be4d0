"""`bench/run tui`: the dashboard's rendering cost and memory on synthetic meshes.

Builds `mesh-tui`'s `frame_bench` example in release mode and runs it once per mesh size
(BENCH_TUI_SERVICES, default 10,100,500), each run its own process so that its peak RSS is
its own. A run applies one synthetic snapshot (an ingress gateway calling a tree of services
with fan-out 3, some chain calls skipping a column, 1-3 versions each, proxies in every sync
state) and renders BENCH_TUI_FRAMES (200) frames into a 200x60 TestBackend, alternating the
Topology and Services views, timing each frame (layout + drawing + the buffer diff).

Baseline from the same run: the 10-service mesh (what a frame costs when the mesh is small).
Targets at 500 services: median frame <= 5 ms, peak RSS <= 30 MB. Prints a table, then one
JSON line per size:
  {"bench":"tui","services":N,"frame_ms":..,"rss_kb":..}
"""

import json
import os
import sys

import tools
from procs import BenchError, UsageError, raise_on_termination_signals

EXAMPLE = "frame_bench"
TARGET_FRAME_MS = 5.0
TARGET_RSS_KB = 30 * 1024


def _sizes():
    raw = os.environ.get("BENCH_TUI_SERVICES", "10,100,500")
    try:
        sizes = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"BENCH_TUI_SERVICES={raw!r} is not a list of whole numbers; try 10,100,500") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"BENCH_TUI_SERVICES={raw!r} needs numbers of at least 1; try 10,100,500")
    return sizes


def _frames():
    raw = os.environ.get("BENCH_TUI_FRAMES", "")
    if raw == "":
        return 200
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"BENCH_TUI_FRAMES={raw!r} is not a whole number; try BENCH_TUI_FRAMES=200") from None
    if value < 1:
        raise UsageError("BENCH_TUI_FRAMES must be at least 1; try BENCH_TUI_FRAMES=200")
    return value


def build():
    return tools.build_example("mesh-tui", EXAMPLE)


def measure(binary, services, frames):
    return tools.last_json([binary, "--services", str(services), "--frames", str(frames)],
                           f"{EXAMPLE} --services {services}", timeout=600)


def main(args):
    if args:
        print(f"bench/run tui takes no arguments (got {' '.join(args)}); "
              "set BENCH_TUI_SERVICES / BENCH_TUI_FRAMES instead", file=sys.stderr)
        return 2
    raise_on_termination_signals()
    try:
        sizes, frames = _sizes(), _frames()
        binary = build()
        print(f"# tui: {frames} frames per mesh size into a 200x60 TestBackend (Topology and Services "
              f"alternately); each size a fresh process; RSS = VmHWM")
        rows = [measure(binary, n, frames) for n in sizes]
        report(rows)
        return 0
    except UsageError as err:
        print(f"bench/run tui: {err}", file=sys.stderr)
        return 2
    except BenchError as err:
        print(f"bench/run tui: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench/run tui: interrupted", file=sys.stderr)
        return 130


def report(rows):
    print()
    print(f"{'services':>8} {'frames':>7} {'frame_ms':>9} {'max_ms':>8} {'update_ms':>10} {'peak RSS kB':>12}")
    for r in rows:
        print(f"{r['services']:>8} {r['frames']:>7} {r['frame_ms']:>9.3f} {r['frame_max_ms']:>8.3f} "
              f"{r['update_ms']:>10.3f} {r['rss_kb']:>12}")
    print()
    base, big = rows[0], rows[-1]
    if len(rows) > 1 and base["frame_ms"] > 0:
        print(f"frame time at {big['services']} vs {base['services']} services: "
              f"{big['frame_ms'] / base['frame_ms']:.2f}x")
    verdict = "met" if big["frame_ms"] <= TARGET_FRAME_MS else "missed"
    print(f"frame target <= {TARGET_FRAME_MS:.0f} ms at {big['services']} services: {big['frame_ms']:.3f} ms, {verdict}")
    verdict = "met" if big["rss_kb"] <= TARGET_RSS_KB else "missed"
    print(f"RSS target <= {TARGET_RSS_KB // 1024} MB at {big['services']} services: "
          f"{big['rss_kb'] / 1024:.1f} MB, {verdict}")
    for r in rows:
        print(json.dumps({"bench": "tui", "services": r["services"], "frame_ms": r["frame_ms"],
                          "rss_kb": r["rss_kb"]}, separators=(",", ":")))
