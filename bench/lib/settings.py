"""`bench/run proxy` settings, read once from BENCH_* environment variables.

Defaults keep the whole run under ~4 minutes on a 2-core machine. Bad values are rejected
up front with the variable's name and an example.
"""

import os
from dataclasses import dataclass

from procs import UsageError

ALL_TARGETS = ("direct", "mesh-proxy-1hop", "mesh-proxy-2hop", "mesh-proxy-2hop-mtls", "haproxy", "haproxy-2hop",
               "haproxy-tcp", "haproxy-tcp-2hop", "nginx")


@dataclass(frozen=True)
class Settings:
    workers: int  # worker threads (haproxy nbthread, nginx worker_processes) per proxy
    rounds: int  # interleaved rounds; figures are medians over rounds
    sat_secs: int  # seconds of wrk per target per round
    rate_secs: int  # seconds of fixed-rate load per target per round
    warmup_secs: int  # one wrk warmup per target before round 1
    rate: float  # requests/s for the latency and CPU run
    rate_connections: int
    wrk_threads: int
    wrk_connections: int
    backend_threads: int
    body_bytes: int
    targets: tuple
    keep_tmp: bool
    install: bool


def _int(env, name, default, minimum=1):
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a whole number; try {name}={default}") from None
    if value < minimum:
        raise UsageError(f"{name}={value} must be at least {minimum}; try {name}={default}")
    return value


def _secs(env, name, default):
    raw = env.get(name, "").strip().removesuffix("s")
    return _int({name: raw}, name, default)


def from_env(env=None):
    env = os.environ if env is None else env
    targets = tuple(t.strip() for t in env.get("BENCH_TARGETS", ",".join(ALL_TARGETS)).split(",") if t.strip())
    unknown = [t for t in targets if t not in ALL_TARGETS]
    if unknown or not targets:
        raise UsageError(
            f"BENCH_TARGETS names unknown targets {unknown}; choose from {','.join(ALL_TARGETS)}"
        )
    sat_secs = _secs(env, "BENCH_DURATION", 3)
    rate = _int(env, "BENCH_RATE", 1000)
    return Settings(
        workers=_int(env, "BENCH_WORKERS", 1),
        rounds=_int(env, "BENCH_ROUNDS", 5),
        sat_secs=sat_secs,
        rate_secs=_secs(env, "BENCH_RATE_DURATION", sat_secs),
        warmup_secs=_int(env, "BENCH_WARMUP", 1, minimum=0),
        rate=float(rate),
        rate_connections=_int(env, "BENCH_RATE_CONNECTIONS", 10),
        wrk_threads=_int(env, "BENCH_WRK_THREADS", 1),
        wrk_connections=_int(env, "BENCH_CONNECTIONS", 32),
        backend_threads=_int(env, "BENCH_BACKEND_THREADS", 1),
        body_bytes=_int(env, "BENCH_BODY_BYTES", 64, minimum=0),
        targets=targets,
        keep_tmp=env.get("BENCH_KEEP_TMP", "") not in ("", "0"),
        install=env.get("BENCH_NO_INSTALL", "") in ("", "0"),
    )
