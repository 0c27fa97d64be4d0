"""`bench/run proxy-instructions`: user-space instructions per request of every proxy process
in a path, counted by valgrind's callgrind, for mesh-proxy and for haproxy.

CPU time on a shared 2-core machine moves by 20% between runs, which hides any change to the
proxy's own code smaller than that. Instruction counts do not move (two runs agree to 0.01%):
this benchmark is the one to read for a change to the proxy's user-space work. It says nothing
about the kernel's share (syscalls, wake-ups), which `bench/run proxy` measures.

Method, per process of a target (the others run natively): start the target with that process
under `valgrind --tool=callgrind`, send N requests at a low fixed rate, stop it with SIGTERM
(callgrind writes its totals at exit); once with N1 and once with N2 requests. Instructions per
request = (total(N2) - total(N1)) / (requests(N2) - requests(N1)): start-up, the readiness
requests and shutdown cancel out. A target's figure is the sum over its processes.
"""

import json
import os
import shutil
import sys
import tempfile

import proxy_targets
import settings
import tools
from procs import BenchError, Supervisor, UsageError, raise_on_termination_signals

# Each target and the names its starter gives the processes whose cost is charged to it.
TARGETS = {
    "haproxy": ["haproxy"],
    "mesh-proxy-1hop": ["mesh-proxy-1hop"],
    "haproxy-2hop": ["haproxy-2hop-client", "haproxy-2hop-server"],
    "mesh-proxy-2hop": ["mesh-proxy-2hop-client", "mesh-proxy-2hop-server"],
    "mesh-proxy-2hop-mtls": ["mesh-proxy-2hop-mtls-client", "mesh-proxy-2hop-mtls-server"],
}
RATE = 100  # requests/s: a process under valgrind runs ~50x slower
SHORT, LONG = 200, 1200  # requests in the two runs


class WrappingSupervisor(Supervisor):
    """Starts the process named `wrap` under `prefix` (valgrind), everything else as is."""

    def __init__(self, log_dir, wrap, prefix):
        super().__init__(log_dir)
        self.wrap, self.prefix, self.wrapped = wrap, prefix, None

    def start(self, name, argv):
        if name != self.wrap:
            return super().start(name, argv)
        self.wrapped = super().start(name, [*self.prefix, *argv])
        return self.wrapped


def main(args):
    if args:
        print(f"bench/run proxy-instructions takes no arguments (got {' '.join(args)}); see bench/README.md",
              file=sys.stderr)
        return 2
    raise_on_termination_signals()
    tmp = None
    ok = False
    try:
        s = settings.from_env({k: v for k, v in os.environ.items() if k != "BENCH_TARGETS"})
        tools.ensure_packages({"valgrind": "valgrind", "haproxy": "haproxy"}, s.install)
        tools.build(["mesh-proxy", "mesh-bench"])
        tmp = tempfile.mkdtemp(prefix="mesh-bench-instr-")
        os.makedirs(os.path.join(tmp, "logs"))
        header(s, tmp)
        rows = []
        for target, names in TARGETS.items():
            per_process = {}
            for name in names:
                per_process[name] = instructions_per_request(s, tmp, target, name)
                print(f"# {target:<22} {name:<30} {per_process[name]:>9,.0f} instructions/request",
                      file=sys.stderr, flush=True)
            rows.append((target, per_process))
        report(rows)
        ok = True
        return 0
    except UsageError as err:
        print(f"bench/run proxy-instructions: {err}", file=sys.stderr)
        return 2
    except BenchError as err:
        print(f"bench/run proxy-instructions: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench/run proxy-instructions: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    finally:
        if tmp is not None:
            if ok and not os.environ.get("BENCH_KEEP_TMP"):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"# configs, logs and callgrind files kept in {tmp}", file=sys.stderr)


def header(s, tmp):
    print("# bench/run proxy-instructions: user-space instructions per request (valgrind callgrind), "
          "every process on 127.0.0.1")
    print(f"# {tools.version_of(['valgrind', '--version'])} | {tools.version_of(['haproxy', '-v'])}")
    print(f"# per process: the target started with that process under callgrind, {SHORT} and then {LONG} "
          f"requests at {RATE} req/s over {s.rate_connections} keep-alive connections; "
          f"figure = (instructions({LONG}) - instructions({SHORT})) / the requests between")
    print(f"# backend: mesh-bench backend, {s.body_bytes} byte body; proxies with {s.workers} worker thread(s); "
          "kernel work is not counted (see bench/run proxy for CPU time)")
    print(f"# temp dir (configs, logs, callgrind files): {tmp}", flush=True)


def instructions_per_request(s, tmp, target, name):
    (short_ir, short_n), (long_ir, long_n) = (run_once(s, tmp, target, name, n) for n in (SHORT, LONG))
    if long_n <= short_n:
        raise BenchError(f"{target}: {name} completed {long_n} requests in the long run and {short_n} in the short one")
    return (long_ir - short_ir) / (long_n - short_n)


def run_once(s, tmp, target, name, requests):
    """Total instructions of `name` over a run of `requests` requests, and the requests done."""
    out = os.path.join(tmp, f"callgrind-{name}-{requests}.out")
    log_dir = os.path.join(tmp, "logs", f"{name}-{requests}")
    os.makedirs(log_dir, exist_ok=True)
    sup = WrappingSupervisor(log_dir, name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"])
    try:
        backend, _ = proxy_targets.start_backend(sup, s)
        t = proxy_targets.start(target, sup, tmp, backend, s)
        if sup.wrapped is None:
            raise BenchError(f"{target} started no process named {name}; update TARGETS in {__file__}")
        load = tools.harness_json(
            ["load", "--url", t.url, "--rate", str(RATE), "--duration", f"{requests / RATE:g}s",
             "--connections", str(s.rate_connections)],
            f"load on {target} with {name} under callgrind", timeout=requests / RATE + 120)
        if load["errors"]:
            raise BenchError(f"{target}: {load['errors']} errors with {name} under callgrind; see the logs in {log_dir}")
        # callgrind writes its totals when the process exits: stop it first, and wait for it.
        sup.wrapped.terminate()
        try:
            sup.wrapped.wait(timeout=60)
        except Exception:
            raise BenchError(f"{name} under callgrind did not exit within 60 s of SIGTERM; see {log_dir}") from None
    finally:
        sup.stop_all()
    return read_total(out, name), load["requests"]


def read_total(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    except OSError as err:
        raise BenchError(f"callgrind wrote no results for {name} ({path}: {err})") from None
    raise BenchError(f"{path} has no totals line; callgrind may have been killed before it finished")


def report(rows):
    by = {target: sum(p.values()) for target, p in rows}
    print()
    print(f"{'target':<22} {'process':<30} {'instr/req':>10}")
    for target, per_process in rows:
        for name, ir in per_process.items():
            print(f"{target:<22} {name:<30} {ir:>10,.0f}")
        if len(per_process) > 1:
            print(f"{target:<22} {'(sum)':<30} {by[target]:>10,.0f}")
    print()
    for target, per_process in rows:
        print(json.dumps({"bench": "proxy-instructions", "target": target,
                          "instructions_per_req": round(by[target]),
                          "processes": {n: round(v) for n, v in per_process.items()}}, separators=(",", ":")))
    print()
    print("ratios (user-space instructions per request; informational, never a failure):")
    for a, b, why in (
        ("mesh-proxy-1hop", "haproxy", "one hop"),
        ("mesh-proxy-2hop", "haproxy-2hop", "two proxies, HTTP/2 between, plain text"),
        ("mesh-proxy-2hop-mtls", "haproxy-2hop", "ours with mTLS against haproxy's plain-text pair"),
        ("mesh-proxy-2hop-mtls", "haproxy", "the mTLS pair against one haproxy hop"),
        ("mesh-proxy-2hop-mtls", "mesh-proxy-2hop", "what mTLS adds to our pair"),
    ):
        print(f"  {a + ' / ' + b:<40} {by[a] / by[b]:>6.2f}  ({why})")
