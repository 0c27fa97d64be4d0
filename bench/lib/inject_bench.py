"""`bench/run kube-inject`: the injection library's throughput and memory on a big file.

Generates a multi-document file of BENCH_INJECT_DOCS (10,000) Deployments, all different
(names, labels, containers, env, probes, some with traffic annotations and comments), and a
file twice that size. Builds `mesh-inject`'s `kube_inject_bench` example in release mode and
runs it once per file and mode per round, each run its own process (so its peak RSS is its
own), rounds interleaved. Baselines from the same run: `copy` (split the stream into
documents, nothing else: the floor) and `parse` (split and parse every document: the YAML
reader's share).

Targets: inject >= 50 MB/s; memory that follows the largest document, not the file: the
2x file's peak RSS within 20% of the 1x file's.

MB/s is per wall-clock second; MB/cpu-s per CPU-second of the run's process, summed over
its threads (injection runs one worker per core, so on an idle machine MB/s is about
MB/cpu-s times the cores in use; on a shared one, less). Prints a table, then the headline
JSON line:
  {"bench":"kube-inject","docs":10000,"mb_per_s":..,"rss_kb":..}
"""

import json
import os
import shutil
import statistics
import sys
import tempfile

import tools
from procs import BenchError, UsageError, raise_on_termination_signals

TARGET_MB_PER_S = 50.0
RSS_GROWTH_LIMIT = 1.2
EXAMPLE = "kube_inject_bench"


def _int_env(name, default, minimum):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number; try {name}={default}") from None
    if value < minimum:
        raise UsageError(f"{name}={value} must be at least {minimum}; try {name}={default}")
    return value


def deployment(i):
    """One Deployment, varied by its index; about 1.3 KB."""
    app = f"svc-{i % 97}"
    version = f"v{i % 3 + 1}"
    annotations = ""
    if i % 10 == 0:
        annotations = (
            "      annotations:\n"
            f"        traffic.sidecar.istio.io/excludeOutboundPorts: \"{3306 + i % 5}\"\n"
            "        traffic.sidecar.istio.io/excludeOutboundIPRanges: \"10.96.0.1/32\"\n"
        )
    comment = f"# deployment {i}: {app} {version}\n" if i % 7 == 0 else ""
    return (
        f"{comment}apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {app}-{version}-{i}\n"
        f"  namespace: team-{i % 13}\n"
        "  labels:\n"
        f"    app: {app}\n"
        f"    version: {version}\n"
        "spec:\n"
        f"  replicas: {1 + i % 5}\n"
        "  selector:\n"
        "    matchLabels:\n"
        f"      app: {app}\n"
        f"      version: {version}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        f"        app: {app}\n"
        f"        version: {version}\n"
        f"{annotations}"
        "    spec:\n"
        f"      serviceAccountName: {app}\n"
        "      containers:\n"
        f"      - name: {app}\n"
        f"        image: \"registry.example.com/{app}:{version}.{i % 11}\"\n"
        "        ports:\n"
        "        - name: http\n"
        f"          containerPort: {8000 + i % 100}\n"
        "        env:\n"
        "        - name: LOG_LEVEL\n"
        "          value: info\n"
        "        - name: UPSTREAM\n"
        f"          value: \"http://svc-{(i + 1) % 97}:9080\"\n"
        "        readinessProbe:\n"
        "          httpGet: {path: /ready, port: http}\n"
        "          periodSeconds: 5\n"
        "        resources:\n"
        "          requests: {cpu: 100m, memory: 128Mi}\n"
        "          limits: {cpu: \"1\", memory: 256Mi}\n"
        "      - name: log-shipper\n"
        "        image: registry.example.com/shipper:2.4\n"
        "        args: [\"--path\", \"/var/log/app\", \"--batch=500\"]\n"
        "        volumeMounts:\n"
        "        - {name: logs, mountPath: /var/log/app}\n"
        "      volumes:\n"
        "      - name: logs\n"
        "        emptyDir: {}\n"
    )


def generate(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(docs):
            if i:
                f.write("---\n")
            f.write(deployment(i))
    return os.path.getsize(path)


def build():
    return tools.build_example("mesh-inject", EXAMPLE)


def measure(binary, path, mode):
    return tools.last_json([binary, path, "--mode", mode], f"{EXAMPLE} {mode} {os.path.basename(path)}",
                           timeout=600)


def main(args):
    if args:
        print(f"bench/run kube-inject takes no arguments (got {' '.join(args)}); "
              "set BENCH_INJECT_DOCS / BENCH_INJECT_ROUNDS instead", file=sys.stderr)
        return 2
    raise_on_termination_signals()
    tmp = None
    ok = False
    try:
        docs = _int_env("BENCH_INJECT_DOCS", 10000, 1)
        rounds = _int_env("BENCH_INJECT_ROUNDS", 3, 1)
        binary = build()
        tmp = tempfile.mkdtemp(prefix="mesh-bench-inject-")
        one, two = os.path.join(tmp, "deployments-1x.yaml"), os.path.join(tmp, "deployments-2x.yaml")
        sizes = {one: generate(one, docs), two: generate(two, 2 * docs)}
        print(f"# kube-inject: {docs} Deployments ({sizes[one] / 1e6:.1f} MB) and {2 * docs} "
              f"({sizes[two] / 1e6:.1f} MB); {rounds} rounds; each run a fresh process")
        runs = [("copy", one), ("parse", one), ("inject", one), ("inject", two)]
        results = {r: [] for r in runs}
        for n in range(rounds):
            order = runs[n % len(runs):] + runs[:n % len(runs)]
            for mode, path in order:
                results[(mode, path)].append(measure(binary, path, mode))
        rows = []
        for (mode, path), rs in results.items():
            rows.append({
                "mode": mode,
                "file": "2x" if path == two else "1x",
                "docs": rs[0]["docs"],
                "mb_per_s": statistics.median(r["mb_per_s"] for r in rs),
                "cpu_mb_per_s": statistics.median(r["cpu_mb_per_s"] or 0.0 for r in rs),
                "rss_kb": max(r["rss_kb"] for r in rs),
            })
        report(rows, sizes[one])
        ok = True
        return 0
    except UsageError as err:
        print(f"bench/run kube-inject: {err}", file=sys.stderr)
        return 2
    except BenchError as err:
        print(f"bench/run kube-inject: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench/run kube-inject: interrupted", file=sys.stderr)
        return 130
    finally:
        if tmp is not None:
            if ok:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"# generated files kept in {tmp}", file=sys.stderr)


def report(rows, size_1x):
    print()
    print(f"{'mode':<8} {'file':<5} {'docs':>7} {'MB/s':>8} {'MB/cpu-s':>9} {'peak RSS kB':>12}")
    for r in rows:
        print(f"{r['mode']:<8} {r['file']:<5} {r['docs']:>7} {r['mb_per_s']:>8.1f} {r['cpu_mb_per_s']:>9.1f} {r['rss_kb']:>12}")
    by = {(r["mode"], r["file"]): r for r in rows}
    inject1, inject2 = by[("inject", "1x")], by[("inject", "2x")]
    copy, parse = by[("copy", "1x")], by[("parse", "1x")]
    growth = inject2["rss_kb"] / inject1["rss_kb"]
    print()
    print(f"inject vs copy (the floor):   {inject1['mb_per_s'] / copy['mb_per_s']:.2f}x the speed")
    print(f"inject vs parse only:         {inject1['mb_per_s'] / parse['mb_per_s']:.2f}x the speed")
    verdict = "met" if inject1["mb_per_s"] >= TARGET_MB_PER_S else "missed"
    print(f"throughput target >= {TARGET_MB_PER_S:.0f} MB/s: {inject1['mb_per_s']:.1f} MB/s, {verdict} "
          f"({inject1['cpu_mb_per_s']:.1f} MB per CPU-second summed over its worker threads, one per core; "
          f"parsing alone, on one thread, reaches {parse['cpu_mb_per_s']:.1f})")
    verdict = "met (memory follows the largest document)" if growth <= RSS_GROWTH_LIMIT else "missed"
    print(f"peak RSS 2x file / 1x file:   {growth:.2f} (target <= {RSS_GROWTH_LIMIT}), {verdict}; "
          f"the 1x file is {size_1x / 1024:.0f} kB")
    print(json.dumps({"bench": "kube-inject", "docs": inject1["docs"], "mb_per_s": round(inject1["mb_per_s"], 1),
                      "rss_kb": inject1["rss_kb"]}, separators=(",", ":")))
