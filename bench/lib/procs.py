"""Processes a benchmark starts: start them, wait until they answer, and always kill them.

Every long-running process is started in its own session, so its PID is also its process
group; cleanup sends SIGTERM to the PID, then SIGKILL to that group (which catches children
such as nginx workers). Cleanup runs on normal exit, on errors, on Ctrl-C and on SIGTERM/SIGHUP.
"""

import http.client
import os
import signal
import socket
import subprocess
import time


class BenchError(Exception):
    """A real failure (not a missed target). The message says what to do next."""


class UsageError(BenchError):
    """A bad argument or BENCH_* setting (exit 2)."""


class Supervisor:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs = []  # (name, Popen), in start order

    def start(self, name, argv):
        log_path = self.log_path(name)
        log = open(log_path, "wb")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise BenchError(f"could not start {name} ({argv[0]}): {err}") from err
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def log_path(self, name):
        return os.path.join(self.log_dir, f"{name}.log")

    def wait_http_ok(self, name, proc, url, timeout=15.0):
        """Polls `url` until it answers 200, failing early if `proc` exits."""
        host, port, path = split_url(url)
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(
                    f"{name} exited with code {proc.returncode} while starting; "
                    f"see {self.log_path(name)}:\n{tail(self.log_path(name))}"
                )
            try:
                conn = http.client.HTTPConnection(host, port, timeout=1)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as err:
                last = str(err)
            time.sleep(0.05)
        raise BenchError(
            f"{name} did not answer 200 on {url} within {timeout:.0f}s (last: {last}); "
            f"see {self.log_path(name)}:\n{tail(self.log_path(name))}"
        )

    def stop_all(self):
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            kill_group(proc)
        self.procs = []


def raise_on_termination_signals():
    """Turns SIGTERM/SIGHUP into SystemExit so `finally` blocks clean up (Ctrl-C already does)."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    # A shell starting us in the background may have set SIGINT to "ignore"; restore Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def free_port():
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def split_url(url):
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port), "/" + path


def tail(path, lines=15):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "  (no log)"
    return "\n".join("  " + l for l in text.splitlines()[-lines:])


def run_checked(argv, what, timeout):
    """Runs a bounded command and returns its stdout; raises BenchError when it fails.

    It runs in its own process group, which is killed (with anything it started, such as
    mesh-bench's wrk) on timeout, Ctrl-C or any other exception.
    """
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as err:
        raise BenchError(f"{what}: could not run {argv[0]} ({err})") from err
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise BenchError(f"{what}: {argv[0]} did not finish within {timeout:.0f}s; killed it") from None
    except BaseException:
        kill_group(proc)
        raise
    if proc.returncode != 0:
        output = (stdout + stderr).strip()
        raise BenchError(f"{what} failed (exit {proc.returncode}):\n{output}")
    return stdout


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # pgid == the child's pid: only ours
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
