"""`bench/run controlplane`: config push from one control plane to N simulated proxies.

For each N in BENCH_CP_PROXIES (100, 1000, 2000), a fresh `mesh-controlplane` (release build,
its own process, 127.0.0.1, free ports, a temp state dir) gets BENCH_CP_SERVICES (1000)
services with routing rules through its config API (`POST /apis/apply`, as meshctl and the
tests use it): per service a ServiceEntry (so all services exist even when N < 1000; a
registered workload of the same host shadows it), a DestinationRule (subsets v1/v2, load
balancer, connection pool, outlier detection) and a VirtualService (a header match, a
90/10 weighted split, timeout, retries). Then `mesh-bench xds-clients` opens N real config
streams (h2c, the plaintext port), registers N workloads, ACKs every version, and applies
BENCH_CP_CHANGES changes of one VirtualService's weights, one at a time; each change's
figure is the time from just before the apply request to the last proxy's ACK of its new
snapshot (both in mesh-bench, one clock). p50/p99 are over the changes.

The control plane's peak RSS (VmHWM) and CPU seconds (utime+stime) come from /proc, read by
mesh-bench (--watch-pid). Prints a table, one JSON line per N:
  {"bench":"controlplane","proxies":N,"services":1000,"push_p50_ms":..,"push_p99_ms":..,"rss_kb":..,"cpu_s":..}
then the targets (met/missed, never a failure) and one {"bench":"controlplane","targets":{...}} line.
"""

import http.client
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import report
import settings
import tools
from procs import BenchError, Supervisor, UsageError, free_port, raise_on_termination_signals

DEFAULT_PROXIES = "100,1000,2000"
TARGET_PROXIES = 2000
TARGET_P99_MS = 1000.0
TARGET_RSS_KB = 200 * 1024  # 200 MB
ISTIOD_RSS_KB = 1536 * 1024  # istiod's documented 1.5 GB for 1000 services / 2000 sidecars
APPLY_CHUNK = 100  # services per POST /apis/apply (the body limit is 4 MiB)
CHANGED = "svc-0000"  # the service whose VirtualService every change edits


def main(args):
    if args:
        print(f"bench/run controlplane takes no arguments (got {' '.join(args)}); "
              "use BENCH_CP_* env vars, see bench/README.md", file=sys.stderr)
        return 2
    raise_on_termination_signals()
    tmp = sup = None
    keep = ok = False
    try:
        s = read_settings()
        keep = s["keep_tmp"]
        tools.build(["mesh-controlplane", "mesh-bench"])
        raise_fd_limit(max(s["proxies"]))
        tmp = tempfile.mkdtemp(prefix="mesh-bench-controlplane-")
        header(s, tmp)
        rows = []
        for n in s["proxies"]:
            sup = Supervisor(make_dir(tmp, f"n{n}", "logs"))
            rows.append(run_one(s, sup, os.path.join(tmp, f"n{n}"), n))
            sup.stop_all()
            sup = None
        results(s, rows)
        ok = True
        return 0
    except UsageError as err:
        print(f"bench/run controlplane: {err}", file=sys.stderr)
        return 2
    except BenchError as err:
        print(f"bench/run controlplane: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench/run controlplane: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        if sup is not None:
            sup.stop_all()
        if tmp is not None:
            if ok and not keep:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"# state dirs, rule files and logs kept in {tmp}", file=sys.stderr)


def read_settings(env=None):
    env = os.environ if env is None else env
    raw = env.get("BENCH_CP_PROXIES", DEFAULT_PROXIES)
    try:
        proxies = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"BENCH_CP_PROXIES={raw!r} must be comma-separated numbers; try BENCH_CP_PROXIES={DEFAULT_PROXIES}") from None
    if not proxies or min(proxies) < 1:
        raise UsageError(f"BENCH_CP_PROXIES={raw!r} needs at least one number >= 1; try BENCH_CP_PROXIES={DEFAULT_PROXIES}")
    changes = settings._int(env, "BENCH_CP_CHANGES", 10)
    if changes > 80:
        raise UsageError(f"BENCH_CP_CHANGES={changes} must be at most 80 (each change is a distinct weight split)")
    return {
        "proxies": proxies,
        "services": settings._int(env, "BENCH_CP_SERVICES", 1000),
        "changes": changes,
        "threads": settings._int(env, "BENCH_CP_CLIENT_THREADS", 1),
        "change_timeout": settings._secs(env, "BENCH_CP_CHANGE_TIMEOUT", 30),
        "connect_timeout": settings._secs(env, "BENCH_CP_CONNECT_TIMEOUT", 60),
        "keep_tmp": env.get("BENCH_KEEP_TMP", "") not in ("", "0"),
    }


def raise_fd_limit(proxies):
    """Each stream is a socket on both sides: mesh-bench and the control plane each need N fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = proxies + 1024
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise BenchError(f"the open-files limit is {hard} (hard), {proxies} proxies need {want}; "
                             f"raise it (ulimit -Hn {want} as root) or lower BENCH_CP_PROXIES")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else hard, hard))


def make_dir(*parts):
    path = os.path.join(*parts)
    os.makedirs(path, exist_ok=True)
    return path


def header(s, tmp):
    print("# bench/run controlplane: one mesh-controlplane (release, its own process, 127.0.0.1), "
          "N simulated proxies in one mesh-bench xds-clients process")
    print(f"# machine: {os.cpu_count()} cpus, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# config: {s['services']} services, each a ServiceEntry + DestinationRule (2 subsets) + VirtualService "
          f"(header match, weighted split, timeout, retries), applied via POST /apis/apply")
    print("# proxies: real config streams on the plaintext port (h2c), one TCP connection each, bootstrap tokens "
          "from the control plane's key; each ACKs every snapshot once it has read and parsed the frame")
    print(f"# change: the weights of VirtualService {CHANGED} (every sidecar routes to it), {s['changes']} changes "
          "one at a time; figure = change request issued -> last proxy's ACK sent (mesh-bench's clock); "
          "p50/p99 nearest rank over changes")
    print("# control plane: defaults (--debounce 100ms); rss_kb = peak VmRSS (VmHWM) over the whole run for that N, "
          "cpu_s = utime+stime since it started (apply, connect, initial sync, changes)")
    print(f"# proxies per run: {', '.join(str(n) for n in s['proxies'])}; a fresh control plane and state dir per run")
    print(f"# temp dir (state, rule files, logs): {tmp}", flush=True)


def service_docs(i):
    name = f"svc-{i:04d}"
    a, b = 2 + i // 250 % 250, i % 250 + 1
    return f"""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: [{name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 9080, name: http, protocol: HTTP}}
  endpoints:
  - {{address: 127.200.{a}.{b}, labels: {{app: {name}, version: v1}}}}
  - {{address: 127.201.{a}.{b}, labels: {{app: {name}, version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: default}}
spec:
  host: {name}
  trafficPolicy:
    loadBalancer: {{simple: LEAST_REQUEST}}
    connectionPool:
      http: {{http1MaxPendingRequests: 100, maxRequestsPerConnection: 0}}
    outlierDetection: {{consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
{virtual_service(name, 90)}"""


def virtual_service(name, v1_weight):
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: [{name}]
  http:
  - match:
    - headers:
        end-user: {{exact: jason}}
    route:
    - destination: {{host: {name}, subset: v2}}
  - route:
    - destination: {{host: {name}, subset: v1}}
      weight: {v1_weight}
    - destination: {{host: {name}, subset: v2}}
      weight: {100 - v1_weight}
    timeout: 5s
    retries: {{attempts: 2, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}}
"""


def write_rules(s, dir_):
    """The initial rule files (APPLY_CHUNK services each) and one file per change."""
    initial = []
    for start in range(0, s["services"], APPLY_CHUNK):
        path = os.path.join(dir_, f"services-{start:04d}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("---\n".join(service_docs(i) for i in range(start, min(start + APPLY_CHUNK, s["services"]))))
        initial.append(path)
    changes = []
    for k in range(s["changes"]):
        path = os.path.join(dir_, f"change-{k + 1:02d}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(virtual_service(CHANGED, 89 - k))  # 89/11, 88/12, ...: never the initial 90/10
        changes.append(path)
    return initial, changes


def apply_file(monitoring, path):
    with open(path, "rb") as f:
        body = f.read()
    conn = http.client.HTTPConnection("127.0.0.1", monitoring, timeout=120)
    try:
        conn.request("POST", "/apis/apply", body=body, headers={"x-file-name": os.path.basename(path)})
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
    except OSError as err:
        raise BenchError(f"applying {path} to the control plane failed: {err}") from err
    finally:
        conn.close()
    if resp.status != 200:
        raise BenchError(f"the control plane refused {path} (HTTP {resp.status}):\n{text[-2000:]}")


def run_one(s, sup, dir_, n):
    state = make_dir(dir_, "state")
    rules = make_dir(dir_, "rules")
    initial, changes = write_rules(s, rules)
    xds, xds_tls, monitoring = free_port(), free_port(), free_port()
    cp = sup.start("mesh-controlplane", [
        tools.binary("mesh-controlplane"), "run", "--state-dir", state,
        "--listen", f"127.0.0.1:{xds}", "--listen-tls", f"127.0.0.1:{xds_tls}",
        "--monitoring", f"127.0.0.1:{monitoring}", "--log-level", "warn",
    ])
    sup.wait_http_ok("mesh-controlplane", cp, f"http://127.0.0.1:{monitoring}/version")
    started = time.monotonic()
    for path in initial:
        apply_file(monitoring, path)
    apply_s = time.monotonic() - started
    argv = ["xds-clients", "--xds", f"127.0.0.1:{xds}", "--monitoring", f"127.0.0.1:{monitoring}",
            "--ca-dir", os.path.join(state, "ca"), "--proxies", str(n), "--services", str(s["services"]),
            "--threads", str(s["threads"]), "--change-timeout", f"{s['change_timeout']}s",
            "--connect-timeout", f"{s['connect_timeout']}s", "--watch-pid", str(cp.pid)]
    for path in changes:
        argv += ["--change-file", path]
    budget = s["connect_timeout"] + s["changes"] * (s["change_timeout"] + 5) + 120
    out = tools.harness_json(argv, f"mesh-bench xds-clients with {n} proxies", timeout=budget)
    if cp.poll() is not None:
        raise BenchError(f"mesh-controlplane exited (code {cp.returncode}) during the run; see {sup.log_path('mesh-controlplane')}")
    done = [c["all_acked_ms"] for c in out["changes"] if c["all_acked_ms"] is not None]
    row = {
        "proxies": n,
        "services": s["services"],
        "push_p50_ms": out["push_p50_ms"],
        "push_p99_ms": out["push_p99_ms"],
        "push_max_ms": out["push_max_ms"],
        "first_ack_ms": median([c["first_ack_ms"] for c in out["changes"]]),
        "apply_ms": median([c["apply_ms"] for c in out["changes"]]),
        "cpu_ms_per_change": median([c["cpu_ms"] for c in out["changes"]]),
        "snapshot_kb": out["snapshot_bytes"] / 1024,
        "initial_sync_s": out["initial_sync_s"],
        "synced": out["synced"],
        "skipped": out["skipped"],
        "apply_s": apply_s,
        "rss_kb": out["rss_kb"],
        "cpu_s": out["cpu_s"],
        "changes": len(out["changes"]),
        "completed": len(done),
        "extra_snapshots": sum(c["snapshots"] - c["acked"] for c in out["changes"]),
        "stream_errors": out["stream_errors"],
        "stream_error_samples": out.get("stream_error_samples", []),
        "acks_per_s": acks_per_s(s, out),
    }
    each = " ".join("timeout" if c["all_acked_ms"] is None else f"{c['all_acked_ms']:.0f}" for c in out["changes"])
    sync = (f"{out['initial_sync_s']:.1f}s" if out["initial_sync_s"] is not None
            else f"not done in {s['connect_timeout']}s ({out['synced']} of {n} synced)")
    print(f"# {n} proxies: rules applied in {apply_s:.1f}s, initial sync {sync}, "
          f"changes (ms until all ACKed): {each or '-'}; skipped: {out['skipped']}", file=sys.stderr, flush=True)
    return row


def acks_per_s(s, out):
    """Proxies brought up to date per second: N / time-to-all-ACKed for a finished change, the
    ACKs within the timeout for an unfinished one (median over changes); without changes, the
    first snapshots ACKed per second of the initial sync. Says how far off an unfinished N is."""
    rates = []
    for c in out["changes"]:
        secs = (c["all_acked_ms"] if c["all_acked_ms"] is not None else s["change_timeout"] * 1000) / 1000
        if secs > 0:
            rates.append(c["acked"] / secs)
    if rates:
        return median(rates)
    secs = out["initial_sync_s"] if out["initial_sync_s"] is not None else s["connect_timeout"]
    return out["synced"] / secs if secs > 0 else None


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _r(v, digits=1):
    return None if v is None else round(v, digits)


def results(s, rows):
    fmt = report._fmt
    print()
    cols = ["proxies", "services", "push_p50_ms", "push_p99_ms", "max_ms", "first_ack", "apply_ms",
            "cpu_ms/chg", "snap_kB", "sync_s", "acks/s", "rss_kb", "cpu_s", "all_acked"]
    print(f"{cols[0]:<8}" + "".join(f"{c:>12}" for c in cols[1:]))
    for r in rows:
        sync = fmt(r["initial_sync_s"], 1) if r["initial_sync_s"] is not None else f"{r['synced']}/{r['proxies']}"
        cells = [str(r["services"]), fmt(r["push_p50_ms"]), fmt(r["push_p99_ms"]), fmt(r["push_max_ms"]),
                 fmt(r["first_ack_ms"]), fmt(r["apply_ms"]), fmt(r["cpu_ms_per_change"]), fmt(r["snapshot_kb"]),
                 sync, fmt(r["acks_per_s"], 1), fmt(r["rss_kb"]), fmt(r["cpu_s"], 2), f"{r['completed']}/{r['changes'] + r['skipped']}"]
        print(f"{r['proxies']:<8}" + "".join(f"{c:>12}" for c in cells))
    print("# push_*: change request issued -> last of N proxies ACKed its new snapshot; first_ack: -> the first one; "
          "apply_ms: -> the apply request answered (stored)")
    print("# cpu_ms/chg: control plane CPU per change (median); snap_kB: one proxy's snapshot frame; "
          "sync_s: mesh-bench start -> all N ACKed their first snapshot (synced/N when not within BENCH_CP_CONNECT_TIMEOUT)")
    print("# all_acked: changes that reached every proxy within BENCH_CP_CHANGE_TIMEOUT, of those planned; after an "
          "unfinished sync or change the rest are skipped (they would measure the backlog); '-': not measured")
    print("# acks/s: proxies brought up to date per second (N / push time; ACKs within the timeout when unfinished)")
    for r in rows:
        if r["completed"] < r["changes"] + r["skipped"] and r["acks_per_s"]:
            print(f"# note: {r['proxies']} proxies: at {r['acks_per_s']:.1f} acks/s one change would take "
                  f"~{r['proxies'] / r['acks_per_s']:,.0f} s to reach all of them")
        if r["extra_snapshots"]:
            print(f"# note: {r['proxies']} proxies got {r['extra_snapshots']} more snapshots than one per proxy and change")
        if r["stream_errors"]:
            print(f"# note: {r['proxies']} proxies: {r['stream_errors']} config streams failed in mesh-bench:")
            for why, count in r["stream_error_samples"]:
                print(f"#   {count} x {why}")
    print()
    for r in rows:
        print(json.dumps({
            "bench": "controlplane",
            "proxies": r["proxies"],
            "services": r["services"],
            "push_p50_ms": _r(r["push_p50_ms"]),
            "push_p99_ms": _r(r["push_p99_ms"]),
            "rss_kb": r["rss_kb"],
            "cpu_s": _r(r["cpu_s"], 2),
        }, separators=(",", ":")))
    print()
    targets(rows)


def targets(rows):
    big = next((r for r in rows if r["proxies"] == TARGET_PROXIES), None)
    if big is None:
        print(f"targets: n/a ({TARGET_PROXIES} proxies were not measured; BENCH_CP_PROXIES must include {TARGET_PROXIES})")
        return
    planned = big["changes"] + big["skipped"]
    all_acked = big["completed"] == planned and planned > 0 and big["stream_errors"] == 0
    p99 = report._ratio(big["push_p99_ms"], TARGET_P99_MS) if all_acked else None
    rss = report._ratio(big["rss_kb"], TARGET_RSS_KB)
    vs_istiod = report._ratio(big["rss_kb"], ISTIOD_RSS_KB)

    def show(v):
        return "n/a" if v is None else f"{v:.2f}"

    print(f"targets ({TARGET_PROXIES} proxies, {big['services']} services; informational, never a failure):")
    failed = f", {big['stream_errors']} streams failed" if big["stream_errors"] else ""
    print(f"  all {TARGET_PROXIES} proxies ACKed every change  {big['completed']}/{planned} changes{failed}  "
          f"{'met' if all_acked else 'missed'}")
    # Not every proxy brought up to date is a miss of the latency target too, not "n/a".
    p99_verdict = report._verdict(p99, 1.0, False) if all_acked else "missed"
    p99_note = (f"p99 {report._fmt(big['push_p99_ms'])} ms" if all_acked
                else f"not measurable: no change reached all {TARGET_PROXIES} proxies in time")
    print(f"  push_p99_ms / 1000 ms              {show(p99):>6}  target <= 1.0  {p99_verdict}  ({p99_note})")
    print(f"  rss_kb / 200 MB                    {show(rss):>6}  target <= 1.0  {report._verdict(rss, 1.0, False)}"
          f"  ({report._fmt(big['rss_kb'])} kB)")
    print(f"  rss_kb / istiod's 1.5 GB           {show(vs_istiod):>6}  (istiod: 1 vCPU, 1.5 GB for 1000 services, 2000 sidecars)")
    print(json.dumps({"bench": "controlplane", "targets": {
        "proxies": TARGET_PROXIES, "all_acked": all_acked,
        "p99_vs_1s": _r(p99, 3), "rss_vs_200mb": _r(rss, 3), "rss_vs_istiod": _r(vs_istiod, 3),
    }}, separators=(",", ":")))
