"""The programs a benchmark needs: Debian packages (installed when missing) and our binaries."""

import json
import os
import shutil
import subprocess

from procs import BenchError, run_checked

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE_DIR = os.path.join(REPO, "target", "release")


def ensure_packages(binaries_to_packages, install):
    """Installs the Debian packages whose binaries are missing (apt-get update first)."""
    missing = {pkg for binary, pkg in binaries_to_packages.items() if shutil.which(binary) is None}
    if not missing:
        return
    names = " ".join(sorted(missing))
    if not install:
        raise BenchError(f"missing packages: {names}; install them (apt-get install {names}) or unset BENCH_NO_INSTALL")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BenchError(f"missing packages: {names}; install them as root: apt-get install {names}")
    print(f"# installing {names} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *sorted(missing)]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise BenchError(
                f"`{' '.join(argv)}` failed (exit {result.returncode}); fix apt and rerun:\n"
                + (result.stdout + result.stderr)[-2000:]
            )


def workspace_packages():
    out = run_checked(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--manifest-path", os.path.join(REPO, "Cargo.toml")],
        "reading the cargo workspace",
        timeout=120,
    )
    return {p["name"] for p in json.loads(out)["packages"]}


def build(packages, extra=()):
    """`cargo build --release` for the given packages (and `extra` flags such as
    `--example NAME`); returns nothing, raises on failure."""
    argv = ["cargo", "build", "--release", "--manifest-path", os.path.join(REPO, "Cargo.toml")]
    for p in packages:
        argv += ["-p", p]
    argv += list(extra)
    print(f"# {' '.join(argv[:3])} {' '.join(argv[5:])}", flush=True)
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise BenchError(f"cargo build failed; fix the build and rerun:\n{result.stderr[-4000:]}")


def binary(name):
    return os.path.join(RELEASE_DIR, name)


def build_example(package, example):
    """Builds `package`'s example in release mode; returns its path."""
    build([package], ["--example", example])
    return os.path.join(RELEASE_DIR, "examples", example)


def last_json(argv, what, timeout):
    """Runs `argv` and returns the last JSON object line it printed."""
    out = run_checked(argv, what, timeout=timeout)
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise BenchError(f"{what} printed no JSON:\n{out}")
    return json.loads(lines[-1])


def version_of(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (r.stdout + r.stderr).strip().splitlines()
    return text[0] if text else "?"


def harness_json(argv, what, timeout):
    """Runs a `mesh-bench ... --json` command and returns its JSON object."""
    return last_json([binary("mesh-bench"), *argv, "--json"], f"{what}: mesh-bench", timeout)
