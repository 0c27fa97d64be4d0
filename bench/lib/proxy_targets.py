"""Starting each `bench/run proxy` target and naming the PIDs its cost is charged to."""

import http.client
import os
from dataclasses import dataclass
from typing import Callable, Optional

import proxy_configs
import tools
from procs import BenchError, free_port, run_checked


@dataclass
class Target:
    name: str
    url: str  # where clients send plain HTTP/1.1
    pids: list  # processes whose CPU and memory count (children included); empty for direct
    # Called after the rounds with the number of requests the measured runs completed;
    # raises BenchError when the target did not do what it claims (mTLS: every request
    # over mutual TLS), returns a one-line note saying what was checked.
    verify: Optional[Callable[[int], str]] = None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def start_backend(sup, s):
    port = free_port()
    addr = f"127.0.0.1:{port}"
    proc = sup.start(
        "backend",
        [tools.binary("mesh-bench"), "backend", "--addr", addr, "--body-bytes", str(s.body_bytes), "--threads", str(s.backend_threads)],
    )
    url = f"http://{addr}/"
    sup.wait_http_ok("backend", proc, url)
    return addr, Target("direct", url, [])


def _mesh_proxy(sup, tmp, name, snapshot, s, extra_args=()):
    return _mesh_proxy_addrs(sup, tmp, name, snapshot, s, extra_args)[0]


def _mesh_proxy_addrs(sup, tmp, name, snapshot, s, extra_args=()):
    """Starts a mesh-proxy; returns (process, {"admin"|"stats"|"health": "127.0.0.1:port"})."""
    config = write(os.path.join(tmp, f"{name}.yaml"), snapshot)
    argv = [tools.binary("mesh-proxy"), "run", "--config", config, "--workers", str(s.workers), *extra_args]
    addrs = {}
    for kind in ("admin", "stats", "health"):
        addrs[kind] = f"127.0.0.1:{free_port()}"
        argv += [f"--{kind}-addr", addrs[kind]]
    return sup.start(name, argv), addrs


def start_mesh_proxy_1hop(sup, tmp, backend, s):
    listen = f"127.0.0.1:{free_port()}"
    snap = proxy_configs.mesh_proxy_snapshot("bench-client", listen, "outbound", backend, "http1")
    proc = _mesh_proxy(sup, tmp, "mesh-proxy-1hop", snap, s)
    url = f"http://{listen}/"
    sup.wait_http_ok("mesh-proxy-1hop", proc, url)
    return Target("mesh-proxy-1hop", url, [proc.pid])


def start_mesh_proxy_2hop(sup, tmp, backend, s):
    """Client sidecar (outbound, HTTP/2 upstream) -> server sidecar (inbound) -> backend."""
    server_listen = f"127.0.0.1:{free_port()}"
    client_listen = f"127.0.0.1:{free_port()}"
    server = _mesh_proxy(
        sup, tmp, "mesh-proxy-2hop-server",
        proxy_configs.mesh_proxy_snapshot("backend", server_listen, "inbound", backend, "http1"), s,
    )
    sup.wait_http_ok("mesh-proxy-2hop-server", server, f"http://{server_listen}/")
    client = _mesh_proxy(
        sup, tmp, "mesh-proxy-2hop-client",
        proxy_configs.mesh_proxy_snapshot("bench-client", client_listen, "outbound", server_listen, "http2"), s,
    )
    url = f"http://{client_listen}/"
    sup.wait_http_ok("mesh-proxy-2hop-client", client, url)
    return Target("mesh-proxy-2hop", url, [client.pid, server.pid])


MTLS_TRUST_DOMAIN = "cluster.local"
MTLS_NAMESPACE = "default"


def spiffe_id(sa):
    return f"spiffe://{MTLS_TRUST_DOMAIN}/ns/{MTLS_NAMESPACE}/sa/{sa}"


def make_certs(tmp, service_accounts):
    """A throwaway CA and one SPIFFE workload certificate per service account, written by
    `mesh-bench certs` into tmp/certs; returns {sa: [--cert-chain, F, --key, F, --trust-bundle, F]}."""
    cert_dir = os.path.join(tmp, "certs")
    os.makedirs(cert_dir, exist_ok=True)
    argv = ["certs", "--dir", cert_dir, "--trust-domain", MTLS_TRUST_DOMAIN, "--namespace", MTLS_NAMESPACE]
    for sa in service_accounts:
        argv += ["--sa", sa]
    out = tools.harness_json(argv, "generating the mTLS certificates (mesh-bench certs)", timeout=60)
    flags = {}
    for w in out["workloads"]:
        if w["spiffe_id"] != spiffe_id(w["service_account"]):
            raise BenchError(f"mesh-bench certs issued {w['spiffe_id']} for {w['service_account']}, expected {spiffe_id(w['service_account'])}")
        flags[w["service_account"]] = ["--cert-chain", w["cert_chain"], "--key", w["key"], "--trust-bundle", out["trust_bundle"]]
    return flags


def scrape(stats_addr, what):
    """The Prometheus text of a mesh-proxy's stats server."""
    host, port = stats_addr.rsplit(":", 1)
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/stats/prometheus")
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        conn.close()
    except OSError as err:
        raise BenchError(f"could not scrape {what} at http://{stats_addr}/stats/prometheus: {err}") from None
    if resp.status != 200:
        raise BenchError(f"{what}: http://{stats_addr}/stats/prometheus answered HTTP {resp.status}")
    return body


def _labels(line):
    """{label: value} of one Prometheus sample line (values without escapes, as ours are)."""
    start, end = line.find("{"), line.rfind("}")
    if start < 0 or end < start:
        return {}
    out = {}
    for part in line[start + 1:end].split('",'):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip().strip('"')
    return out


def inbound_requests_by_security(text):
    """Sums the server side's istio_requests_total (reporter="destination") by
    connection_security_policy: {"mutual_tls": n, "none": m, ...}."""
    by = {}
    for line in text.splitlines():
        if not line.startswith("istio_requests_total{"):
            continue
        labels = _labels(line)
        if labels.get("reporter") != "destination":
            continue
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        policy = labels.get("connection_security_policy", "<missing>")
        by[policy] = by.get(policy, 0) + value
        if policy == "mutual_tls":
            key = ("source_principal", labels.get("source_principal", ""))
            by[key] = by.get(key, 0) + value
    return by


def check_mutual_tls(stats_addr, at_least, client_sa, what):
    """Fails loudly unless the server sidecar counted >= at_least requests over mutual TLS,
    all from client_sa's SPIFFE ID, and none over anything else. Returns a note."""
    by = inbound_requests_by_security(scrape(stats_addr, what))
    mtls = by.get("mutual_tls", 0)
    others = {k: v for k, v in by.items() if isinstance(k, str) and k != "mutual_tls" and v}
    from_client = by.get(("source_principal", spiffe_id(client_sa)), 0)
    if mtls < max(at_least, 1) or others or from_client != mtls:
        raise BenchError(
            f"{what}: the hop is not (only) mTLS: the server sidecar's /stats/prometheus (http://{stats_addr}) "
            f"counts {mtls:.0f} inbound requests with connection_security_policy=\"mutual_tls\" "
            f"({from_client:.0f} from {spiffe_id(client_sa)}; at least {at_least} expected) and {others or 'none'} otherwise; "
            "its figures are not an mTLS measurement, so the run stops here. Check the sidecars' logs in the temp dir"
        )
    return (f"{mtls:.0f} inbound requests on the server sidecar with connection_security_policy=\"mutual_tls\" "
            f"from {spiffe_id(client_sa)} (>= {at_least} measured), 0 otherwise")


def start_mesh_proxy_2hop_mtls(sup, tmp, backend, s):
    """Client sidecar (outbound, ISTIO_MUTUAL: mTLS + HTTP/2) -> server sidecar (inbound,
    peerAuthentication STRICT) -> backend, with certificates from a throwaway CA."""
    name = "mesh-proxy-2hop-mtls"
    certs = make_certs(tmp, ["bench-client", "backend"])
    server_id = spiffe_id("backend")
    server_listen = f"127.0.0.1:{free_port()}"
    client_listen = f"127.0.0.1:{free_port()}"
    server, server_addrs = _mesh_proxy_addrs(
        sup, tmp, f"{name}-server",
        proxy_configs.mesh_proxy_snapshot(
            "backend", server_listen, "inbound", backend, "http1",
            peer_authentication="STRICT", upstream_principal=server_id,
        ),
        s, certs["backend"],
    )
    # STRICT refuses plain text on the inbound listener: wait on the health server instead.
    sup.wait_http_ok(f"{name}-server", server, f"http://{server_addrs['health']}/healthz/ready")
    client = _mesh_proxy(
        sup, tmp, f"{name}-client",
        proxy_configs.mesh_proxy_snapshot(
            "bench-client", client_listen, "outbound", server_listen, "http2",
            upstream_tls="ISTIO_MUTUAL", upstream_principal=server_id,
        ),
        s, certs["bench-client"],
    )
    url = f"http://{client_listen}/"
    sup.wait_http_ok(f"{name}-client", client, url)
    # Fail before the rounds, not after, when the readiness request did not go over mTLS.
    check_mutual_tls(server_addrs["stats"], 1, "bench-client", f"{name} (at start)")

    def verify(requests):
        return check_mutual_tls(server_addrs["stats"], requests, "bench-client", name)

    return Target(name, url, [client.pid, server.pid], verify)


def start_haproxy(sup, tmp, backend, s):
    listen = f"127.0.0.1:{free_port()}"
    config = write(os.path.join(tmp, "haproxy.cfg"), proxy_configs.haproxy(listen, backend, s.workers))
    run_checked(["haproxy", "-c", "-q", "-f", config], "checking the generated haproxy config", timeout=30)
    # -db: stay in the foreground, one process (no master-worker), so its PID is the proxy.
    proc = sup.start("haproxy", ["haproxy", "-db", "-f", config])
    url = f"http://{listen}/"
    sup.wait_http_ok("haproxy", proc, url)
    return Target("haproxy", url, [proc.pid])


def start_haproxy_2hop(sup, tmp, backend, s):
    """The reference for the two-sidecar targets: two haproxies in a row, HTTP/2 with prior
    knowledge (h2c) between them, as between two mesh-proxies."""
    server_listen = f"127.0.0.1:{free_port()}"
    client_listen = f"127.0.0.1:{free_port()}"
    procs = []
    for name, listen, upstream, bind_extra, server_extra in (
        ("haproxy-2hop-server", server_listen, backend, " proto h2", ""),
        ("haproxy-2hop-client", client_listen, server_listen, "", " proto h2"),
    ):
        config = write(os.path.join(tmp, f"{name}.cfg"),
                       proxy_configs.haproxy(listen, upstream, s.workers, bind_extra, server_extra))
        run_checked(["haproxy", "-c", "-q", "-f", config], f"checking the generated {name} config", timeout=30)
        procs.append(sup.start(name, ["haproxy", "-db", "-f", config]))
    url = f"http://{client_listen}/"
    sup.wait_http_ok("haproxy-2hop", procs[1], url)
    return Target("haproxy-2hop", url, [procs[1].pid, procs[0].pid])


def start_haproxy_tcp(sup, tmp, backend, s, hops):
    """The floor references: `hops` haproxies in a row in TCP mode, forwarding bytes without
    parsing HTTP (each client connection gets its own upstream connection, kept as long as
    the client's). No proxy that reads requests can do less per hop."""
    name = "haproxy-tcp" if hops == 1 else f"haproxy-tcp-{hops}hop"
    upstream, procs = backend, []
    for i in range(hops):
        listen = f"127.0.0.1:{free_port()}"
        hop = name if hops == 1 else f"{name}-{hops - i}"
        config = write(os.path.join(tmp, f"{hop}.cfg"), proxy_configs.haproxy(listen, upstream, s.workers, mode="tcp"))
        run_checked(["haproxy", "-c", "-q", "-f", config], f"checking the generated {hop} config", timeout=30)
        procs.append(sup.start(hop, ["haproxy", "-db", "-f", config]))
        upstream = listen
    url = f"http://{upstream}/"
    sup.wait_http_ok(name, procs[-1], url)
    return Target(name, url, [p.pid for p in reversed(procs)])


def start_nginx(sup, tmp, backend, s):
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(prefix, exist_ok=True)
    listen = f"127.0.0.1:{free_port()}"
    config = write(os.path.join(prefix, "nginx.conf"), proxy_configs.nginx(listen, backend, s.workers, prefix))
    base = ["nginx", "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", config]
    run_checked([*base, "-t", "-q"], "checking the generated nginx config", timeout=30)
    proc = sup.start("nginx", base)
    url = f"http://{listen}/"
    sup.wait_http_ok("nginx", proc, url)
    return Target("nginx", url, [proc.pid])  # the master; workers are its children


STARTERS = {
    "mesh-proxy-1hop": start_mesh_proxy_1hop,
    "mesh-proxy-2hop": start_mesh_proxy_2hop,
    "mesh-proxy-2hop-mtls": start_mesh_proxy_2hop_mtls,
    "haproxy": start_haproxy,
    "haproxy-2hop": start_haproxy_2hop,
    "haproxy-tcp": lambda sup, tmp, backend, s: start_haproxy_tcp(sup, tmp, backend, s, 1),
    "haproxy-tcp-2hop": lambda sup, tmp, backend, s: start_haproxy_tcp(sup, tmp, backend, s, 2),
    "nginx": start_nginx,
}


def start(name, sup, tmp, backend, s):
    starter = STARTERS.get(name)
    if starter is None:
        raise BenchError(f"no starter for target {name}")
    return starter(sup, tmp, backend, s)
