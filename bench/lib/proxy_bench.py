"""`bench/run proxy`: mesh-proxy against direct, haproxy and nginx, in one run on loopback.

All targets run at once (idle ones cost nothing) and are measured in interleaved rounds, with
the order rotated each round, so the shared machine's noise lands on every target alike.
Per round and target: a wrk saturation run (rps, peak RSS), then a fixed-rate run with
`mesh-bench load` (latency percentiles, proxy CPU per request). Figures are medians over rounds,
except RSS (the peak over rounds) and CPU per request (pooled: all rounds' CPU / all requests).
"""

import os
import shutil
import statistics
import sys
import tempfile

import proxy_targets
import report
import settings
import tools
from procs import BenchError, Supervisor, UsageError, raise_on_termination_signals

PACKAGES = {"wrk": "wrk", "haproxy": "haproxy", "nginx": "nginx-light"}
MESH_PROXY_TARGETS = ("mesh-proxy-1hop", "mesh-proxy-2hop", "mesh-proxy-2hop-mtls")


def main(args):
    if args:
        print(f"bench/run proxy takes no arguments (got {' '.join(args)}); use BENCH_* env vars, see bench/README.md", file=sys.stderr)
        return 2
    raise_on_termination_signals()
    s = tmp = sup = None
    ok = False
    try:
        s = settings.from_env()
        targets, skipped = prepare(s)
        tmp = tempfile.mkdtemp(prefix="mesh-bench-proxy-")
        os.makedirs(os.path.join(tmp, "logs"))
        sup = Supervisor(os.path.join(tmp, "logs"))
        report.header(s, targets, skipped, tmp)
        results = measure(s, sup, tmp, targets)
        report.results(s, results, skipped)
        ok = True
        return 0
    except UsageError as err:
        print(f"bench/run proxy: {err}", file=sys.stderr)
        return 2
    except BenchError as err:
        print(f"bench/run proxy: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench/run proxy: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        if sup is not None:
            sup.stop_all()
        if tmp is not None:
            if ok and not (s and s.keep_tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"# configs and logs kept in {tmp}", file=sys.stderr)


def prepare(s):
    """Installs packages, builds binaries; returns (targets to run, {skipped target: why})."""
    wanted = [t for t in s.targets]
    needed = {b: p for b, p in PACKAGES.items() if b == "wrk" or any(t.split("-")[0] == b for t in wanted)}
    tools.ensure_packages(needed, s.install)
    packages = ["mesh-bench"]
    skipped = {}
    if any(t in MESH_PROXY_TARGETS for t in wanted):
        if "mesh-proxy" in tools.workspace_packages():
            packages.insert(0, "mesh-proxy")
        else:
            for t in MESH_PROXY_TARGETS:
                if t in wanted:
                    skipped[t] = "mesh-proxy is not in this workspace yet (merge main once proxy/ lands)"
    tools.build(packages)
    return [t for t in wanted if t not in skipped], skipped


def measure(s, sup, tmp, names):
    backend, direct = proxy_targets.start_backend(sup, s)
    targets = [direct if n == "direct" else proxy_targets.start(n, sup, tmp, backend, s) for n in names]
    if s.warmup_secs:
        for t in targets:
            saturate(s, t, s.warmup_secs)
    runs = {t.name: [] for t in targets}
    for r in range(s.rounds):
        k = r % len(targets)
        for t in targets[k:] + targets[:k]:
            sat = saturate(s, t, s.sat_secs)
            lat = fixed_rate(s, t)
            print(f"# round {r + 1}/{s.rounds} {t.name:<20} rps {sat['rps']:>9.0f}  p50 {lat['p50_us']:>5} us  "
                  f"p99 {lat['p99_us']:>6} us  cpu {lat['cpu_us']:>8} us / {lat['requests']} req",
                  file=sys.stderr, flush=True)
            runs[t.name].append((sat, lat))
    for t in targets:
        if t.verify is not None:
            measured = sum(sat["requests"] + lat["requests"] for sat, lat in runs[t.name])
            print(f"# verified {t.name}: {t.verify(measured)}", flush=True)
    return [summarize(t, runs[t.name]) for t in targets]


def saturate(s, t, secs):
    argv = ["wrk", "--url", t.url, "--duration", f"{secs}s", "--threads", str(s.wrk_threads), "--connections", str(s.wrk_connections)]
    for pid in t.pids:
        argv += ["--watch-pid", str(pid)]
    return tools.harness_json(argv, f"saturation run against {t.name}", timeout=secs + 60)


def fixed_rate(s, t):
    argv = ["load", "--url", t.url, "--rate", str(s.rate), "--duration", f"{s.rate_secs}s", "--connections", str(s.rate_connections)]
    for pid in t.pids:
        argv += ["--watch-pid", str(pid)]
    return tools.harness_json(argv, f"fixed-rate run against {t.name}", timeout=s.rate_secs + 60)


def summarize(t, rounds):
    sats = [sat for sat, _ in rounds]
    lats = [lat for _, lat in rounds]

    def med(rows, key):
        return statistics.median(row[key] for row in rows)

    has_proxy = bool(t.pids)
    return {
        "target": t.name,
        "rps": med(sats, "rps"),
        "rps_spread_pct": spread_pct([sat["rps"] for sat in sats]),
        "p50_us": med(lats, "p50_us"),
        "p90_us": med(lats, "p90_us"),
        "p99_us": med(lats, "p99_us"),
        # Pooled over rounds, not a median: CPU time comes in 10 ms ticks, and pooling makes
        # the tick small against the total.
        "cpu_us_per_req": pooled_cpu_per_req(lats) if has_proxy else None,
        "rss_kb": max(sat["peak_rss_kb"] for sat in sats) if has_proxy else None,
        "achieved_rate": med(lats, "achieved_rps"),
        "errors": sum(x["errors"] for x in sats) + sum(x["errors"] for x in lats),
    }


def pooled_cpu_per_req(lats):
    requests = sum(lat["requests"] for lat in lats)
    return sum(lat["cpu_us"] for lat in lats) / requests if requests else None


def spread_pct(values):
    """(max - min) / median, in percent: how much the rounds disagree."""
    mid = statistics.median(values)
    return 0.0 if mid <= 0 else (max(values) - min(values)) / mid * 100
