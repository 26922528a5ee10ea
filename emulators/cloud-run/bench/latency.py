"""Added p50 latency of the front door: one client, small JSON POSTs, direct vs proxied.

Starts tests/crun_app.py behind the emulator (public, cpu_idle off) and also directly, then
sends N sequential requests to each over one keep-alive connection. Bounded, 127.0.0.1 only.
Usage: python bench/latency.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(TESTS))
from crun_support import TF_TEMPLATE, free_port, stop, wait_for  # noqa: E402


def _timings(url: str, n: int) -> list[float]:
    payload = {"query": "how much paid time off do we get?", "k": 5}
    out: list[float] = []
    with httpx.Client(timeout=10) as client:
        for _ in range(50):
            client.post(url, json=payload)
        for _ in range(n):
            began = time.perf_counter()
            client.post(url, json=payload).raise_for_status()
            out.append(time.perf_counter() - began)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tmp = Path(tempfile.mkdtemp())
    direct_port, door_port = free_port(), free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "crun_app:app", "--log-level", "warning"]
    direct = subprocess.Popen([*uvicorn, "--port", str(direct_port)], cwd=TESTS)
    # cpu "8": the whole machine, as the app run directly has it.
    settings = {"timeout": 30, "concurrency": 80, "cpu_idle": "false", "memory": "512Mi"}
    settings |= {"cpu": "8", "startup_cpu_boost": "false"}
    (tmp / "svc.tf").write_text(TF_TEMPLATE.format(**settings))
    (tmp / "c.toml").write_text(
        f'[[service]]\nname = "bench"\nport = {door_port}\nterraform = "svc.tf"\n'
        f'command = ["sh", "-c", "exec {" ".join(uvicorn)} --port $PORT"]\n'
        f'workdir = "{TESTS}"\n[service.members]\n'
        '"google_service_account.tasks.member" = []\n"var.invoker_members" = ["allUsers"]\n'
    )
    # exec: the measured pid is the emulator itself, not a wrapper script.
    door = subprocess.Popen(
        [sys.executable, "-m", "cloud_run_emulator", "--config", str(tmp / "c.toml")],
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DECLARED_SECRET": "unused"},  # the template declares a secret
    )
    try:
        for port in (direct_port, door_port):
            url = f"http://127.0.0.1:{port}/echo"
            wait_for(lambda u=url: _ok(u), timeout=30)
        app_before = sum(psutil.Process(direct.pid).cpu_times()[:2])
        base = statistics.median(_timings(f"http://127.0.0.1:{direct_port}/echo", n))
        app_cpu = (sum(psutil.Process(direct.pid).cpu_times()[:2]) - app_before) / (n + 50)
        # CPU the front door itself spends per request: unlike latency, not skewed by other
        # processes competing for the machine's cores.
        cpu_before = sum(psutil.Process(door.pid).cpu_times()[:2])
        proxied = statistics.median(_timings(f"http://127.0.0.1:{door_port}/echo", n))
        cpu_per_request = (sum(psutil.Process(door.pid).cpu_times()[:2]) - cpu_before) / (n + 50)
        print(
            f"CPU per request: front door {cpu_per_request * 1e6:.0f} us, the app itself "
            f"{app_cpu * 1e6:.0f} us; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(
            f"direct p50 {base * 1000:.3f} ms, through the front door p50 "
            f"{proxied * 1000:.3f} ms, added {(proxied - base) * 1000:.3f} ms (n={n})"
        )
    finally:
        stop(door)
        stop(direct)


def _ok(url: str) -> bool:
    try:
        return httpx.post(url, json={}).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
