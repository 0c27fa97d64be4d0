"""What `bench/run proxy` prints: a setup header, a table, one JSON line per target, ratios.

Ratios are printed against their targets with "met"/"missed"; nothing here fails the run.
"""

import json
import os

import tools

RSS_BUDGET_KB = 15 * 1024  # 15 MB
MTLS_CPU_TARGET = 1.5  # mesh-proxy-2hop-mtls (both sidecars) CPU/req vs one plaintext haproxy hop


def header(s, targets, skipped, tmp):
    print("# bench/run proxy: every process on 127.0.0.1, all targets up at once, interleaved rounds")
    print(f"# machine: {os.cpu_count()} cpus, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# fairness: {s.workers} worker thread(s) per proxy (BENCH_WORKERS): mesh-proxy --workers {s.workers}, "
          f"haproxy nbthread {s.workers}, nginx worker_processes {s.workers}; keep-alive both sides, upstream reuse, no access logs")
    print(f"# backend: mesh-bench backend, {s.backend_threads} thread(s), {s.body_bytes} byte body, shared by all targets")
    print(f"# saturation: wrk -t{s.wrk_threads} -c{s.wrk_connections}, {s.sat_secs}s per round; RSS = peak VmRSS sampled every 50ms")
    print(f"# latency+cpu: open-loop {s.rate:.0f} req/s over {s.rate_connections} keep-alive connections, {s.rate_secs}s per round; "
          "cpu = (utime+stime)/requests from /proc")
    print(f"# rounds: {s.rounds} (+{s.warmup_secs}s wrk warmup per target); figures are medians over rounds, RSS the max, CPU pooled over rounds")
    print("# multi-process targets: nginx = master + workers summed; mesh-proxy-2hop, mesh-proxy-2hop-mtls and haproxy-2hop = "
          "client + server proxy summed (CPU and RSS)")
    if "mesh-proxy-2hop-mtls" in targets:
        print("# mtls: mesh-proxy-2hop-mtls = client sidecar =mTLS (TLS 1.3, HTTP/2, ISTIO_MUTUAL)=> server sidecar "
              "(peerAuthentication STRICT); throwaway CA + SPIFFE certs from `mesh-bench certs`, checked after the run "
              "in the server's /stats/prometheus (connection_security_policy=\"mutual_tls\")")
    print(f"# versions: {tools.version_of(['haproxy', '-v'])} | {tools.version_of(['nginx', '-v'])} | {tools.version_of(['wrk', '--version'])}")
    print(f"# targets: {', '.join(targets)}")
    for name, why in skipped.items():
        print(f"# skipped {name}: {why}")
    print(f"# temp dir (configs, logs): {tmp}", flush=True)


def _fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def results(s, rows, skipped):
    print()
    cols = ["target", "rps", "rps±%", "p50_us", "p90_us", "p99_us", "cpu_us/req", "rss_kb", "rate", "errors"]
    w = max([17] + [len(r["target"]) + 1 for r in rows] + [len(n) + 1 for n in skipped])
    print(f"{cols[0]:<{w}}" + "".join(f"{c:>11}" for c in cols[1:]))
    for r in rows:
        cells = [_fmt(r["rps"]), _fmt(r["rps_spread_pct"]), _fmt(r["p50_us"]), _fmt(r["p90_us"]), _fmt(r["p99_us"]),
                 _fmt(r["cpu_us_per_req"], 1), _fmt(r["rss_kb"]), _fmt(r["achieved_rate"]), str(r["errors"])]
        print(f"{r['target']:<{w}}" + "".join(f"{c:>11}" for c in cells))
    for name in skipped:
        print(f"{name:<{w}}{'skipped':>11}")
    print("# rps±% = (max - min) / median of the rounds' rps: large values mean a noisy machine")
    for r in rows:
        if r["achieved_rate"] < 0.9 * s.rate:
            print(f"# note: {r['target']} sustained only {r['achieved_rate']:.0f} of {s.rate:.0f} req/s; its latencies include queueing")
        if r["errors"]:
            print(f"# note: {r['target']} had {r['errors']} errors; see its log in the temp dir (BENCH_KEEP_TMP=1 keeps it)")
    print()
    for r in rows:
        print(json.dumps({
            "bench": "proxy",
            "target": r["target"],
            "rps": round(r["rps"]),
            "p50_us": round(r["p50_us"]),
            "p90_us": round(r["p90_us"]),
            "p99_us": round(r["p99_us"]),
            "cpu_us_per_req": None if r["cpu_us_per_req"] is None else round(r["cpu_us_per_req"], 1),
            "rss_kb": None if r["rss_kb"] is None else round(r["rss_kb"]),
        }, separators=(",", ":")))
    print()
    ratios(rows)


def _verdict(value, target, higher_is_better):
    if value is None:
        return "n/a"
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "missed"


def _ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def ratios(rows):
    by = {r["target"]: r for r in rows}
    mp = by.get("mesh-proxy-1hop")
    mtls = by.get("mesh-proxy-2hop-mtls")
    ha = by.get("haproxy")
    ng = by.get("nginx")
    direct = by.get("direct")
    if mp is None and mtls is None:
        print("ratios: n/a (mesh-proxy-1hop was not measured)")
        return

    def show(v):
        return "n/a" if v is None else f"{v:.2f}"

    rps = cpu = lat = rss = None
    if mp is None:
        print("ratios (mesh-proxy-1hop): n/a (mesh-proxy-1hop was not measured)")
    else:
        best = max((r for r in (ha, ng) if r), key=lambda r: r["rps"], default=None)
        rps = _ratio(mp["rps"], best["rps"] if best else None)
        cpu = _ratio(mp["cpu_us_per_req"], ha["cpu_us_per_req"] if ha else None)
        mp_added = mp["p50_us"] - direct["p50_us"] if direct else None
        ha_added = ha["p50_us"] - direct["p50_us"] if direct and ha else None
        lat = _ratio(mp_added, ha_added)
        rss = _ratio(mp["rss_kb"], RSS_BUDGET_KB)

        best_name = best["target"] if best else "n/a"
        print("ratios (mesh-proxy-1hop; informational, never a failure):")
        print(f"  rps / max(haproxy, nginx) [{best_name}]    {show(rps):>6}  target >= 1.0  {_verdict(rps, 1.0, True)}")
        print(f"  cpu_us_per_req / haproxy              {show(cpu):>6}  target <= 1.0  {_verdict(cpu, 1.0, False)}")
        print(f"  added p50 vs direct / haproxy's       {show(lat):>6}  target <= 1.0  {_verdict(lat, 1.0, False)}"
              f"  (mesh-proxy +{_fmt(mp_added)} us, haproxy +{_fmt(ha_added)} us)")
        print(f"  rss_kb / 15 MB                        {show(rss):>6}  target <= 1.0  {_verdict(rss, 1.0, False)}")
    mtls_cpu = mtls_vs_ha2 = ha2_vs_ha = floor_vs_ha = mtls_vs_floor = None
    ha2 = by.get("haproxy-2hop")
    floor = by.get("haproxy-tcp-2hop")
    l4 = by.get("haproxy-tcp")
    if mtls is not None:
        mtls_cpu = _ratio(mtls["cpu_us_per_req"], ha["cpu_us_per_req"] if ha else None)
        mtls_vs_ha2 = _ratio(mtls["cpu_us_per_req"], ha2["cpu_us_per_req"] if ha2 else None)
        ha2_vs_ha = _ratio(ha2["cpu_us_per_req"] if ha2 else None, ha["cpu_us_per_req"] if ha else None)
        print("ratios (mesh-proxy-2hop-mtls, both sidecars summed; informational, never a failure):")
        print(f"  cpu_us_per_req / haproxy (one hop)    {show(mtls_cpu):>6}  target <= {MTLS_CPU_TARGET}  "
              f"{_verdict(mtls_cpu, MTLS_CPU_TARGET, False)}  (mesh-proxy-2hop-mtls {_fmt(mtls['cpu_us_per_req'], 1)} us, "
              f"haproxy {_fmt(ha['cpu_us_per_req'] if ha else None, 1)} us)")
        print(f"  reference: haproxy-2hop / haproxy     {show(ha2_vs_ha):>6}  (two haproxies, h2c between, plain text)")
        print(f"  cpu_us_per_req / haproxy-2hop         {show(mtls_vs_ha2):>6}  (same topology, ours with mTLS)")
        floor_vs_ha = _ratio(floor["cpu_us_per_req"] if floor else None, ha["cpu_us_per_req"] if ha else None)
        mtls_vs_floor = _ratio(mtls["cpu_us_per_req"], floor["cpu_us_per_req"] if floor else None)
        l4_vs_ha = _ratio(l4["cpu_us_per_req"] if l4 else None, ha["cpu_us_per_req"] if ha else None)
        print(f"  floor: haproxy-tcp-2hop / haproxy     {show(floor_vs_ha):>6}  (two layer-4 byte forwarders in a row: "
              "the least any two-process path costs)")
        print(f"  floor: haproxy-tcp / haproxy          {show(l4_vs_ha):>6}  (one layer-4 forwarder against one HTTP hop)")
        print(f"  cpu_us_per_req / haproxy-tcp-2hop     {show(mtls_vs_floor):>6}  (ours, HTTP + mTLS, against that floor)")

    def r3(v):
        return None if v is None else round(v, 3)

    print(json.dumps({"bench": "proxy", "ratios": {
        "rps_vs_best_of_haproxy_nginx": r3(rps), "cpu_vs_haproxy": r3(cpu),
        "added_p50_vs_haproxy": r3(lat), "rss_vs_15mb": r3(rss),
        "mtls_2hop_cpu_vs_haproxy": r3(mtls_cpu),
        "mtls_2hop_cpu_vs_haproxy_2hop": r3(mtls_vs_ha2), "haproxy_2hop_cpu_vs_haproxy": r3(ha2_vs_ha),
        "tcp_2hop_floor_cpu_vs_haproxy": r3(floor_vs_ha), "mtls_2hop_cpu_vs_tcp_2hop_floor": r3(mtls_vs_floor),
    }}, separators=(",", ":")))
