"""Starting each `bench/run proxy` target and naming the PIDs its cost is charged to."""

import os
from dataclasses import dataclass

import proxy_configs
import tools
from procs import BenchError, free_port, run_checked


@dataclass
class Target:
    name: str
    url: str  # where clients send plain HTTP/1.1
    pids: list  # processes whose CPU and memory count (children included); empty for direct


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


def _mesh_proxy(sup, tmp, name, snapshot, s):
    config = write(os.path.join(tmp, f"{name}.yaml"), snapshot)
    argv = [tools.binary("mesh-proxy"), "run", "--config", config, "--workers", str(s.workers)]
    for flag in ("--admin-addr", "--stats-addr", "--health-addr"):
        argv += [flag, f"127.0.0.1:{free_port()}"]
    return sup.start(name, argv)


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


def start_haproxy(sup, tmp, backend, s):
    listen = f"127.0.0.1:{free_port()}"
    config = write(os.path.join(tmp, "haproxy.cfg"), proxy_configs.haproxy(listen, backend, s.workers))
    run_checked(["haproxy", "-c", "-q", "-f", config], "checking the generated haproxy config", timeout=30)
    # -db: stay in the foreground, one process (no master-worker), so its PID is the proxy.
    proc = sup.start("haproxy", ["haproxy", "-db", "-f", config])
    url = f"http://{listen}/"
    sup.wait_http_ok("haproxy", proc, url)
    return Target("haproxy", url, [proc.pid])


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
    "haproxy": start_haproxy,
    "nginx": start_nginx,
}


def start(name, sup, tmp, backend, s):
    starter = STARTERS.get(name)
    if starter is None:
        raise BenchError(f"no starter for target {name}")
    return starter(sup, tmp, backend, s)
