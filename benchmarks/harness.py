"""Measuring helpers shared by every suite: wall time, peak memory, machine facts, JSON.

Timings are the median of several runs after a warm-up run, because the first call pays
for lazy initialisation (thread pools, allocator growth) that a user pays only once.
Memory is read from the kernel, because torch allocates tensors outside Python's
allocator (tracemalloc, also reported, sees only Python objects). On Linux the
resident-set high-water mark (VmHWM) is reset before the measured call by writing "5" to
/proc/self/clear_refs, so after it VmHWM is the process's peak during that call (models
and data already loaded included) and its rise above the starting RSS is what the call
itself needed. Elsewhere only the lifetime peak from getrusage is available.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from engine.paths import REPO

RESULTS_DIR = REPO / "benchmarks" / "results"
PACKAGES = ("torch", "numpy", "safetensors", "fairseq2", "sonar-space", "gradio", "sqlalchemy")


@dataclass
class Measurement:
    """One benchmarked case: its parameters, the run times and the memory it needed."""

    name: str
    params: dict
    seconds: list[float]
    peak_rss_mb: float | None  # the process's peak resident set during one run
    rss_growth_mb: float | None  # how far that peak rose above the RSS before the run
    peak_python_mb: float | None  # Python-heap peak during one run (tracemalloc)
    items: int = 1  # work units per run (sentences, concepts, ...) for the rate

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "median_s": self.median_s,
            "min_s": min(self.seconds),
            "items_per_s": self.items / self.median_s,
        }


def _status_kib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss(fn: Callable[[], object]) -> tuple[float | None, float | None]:
    """Run `fn` once; return (peak resident set during it, its rise above the start), MiB.
    Without /proc: (lifetime peak, None)."""
    if _reset_peak_rss():
        start = _status_kib("VmRSS")
        fn()
        peak = _status_kib("VmHWM")
        if start is None or peak is None:
            return None, None
        return peak / 1024, max(peak - start, 0) / 1024
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None  # KiB on Linux


def measure(
    name: str,
    fn: Callable[[], object],
    *,
    repeats: int = 5,
    items: int = 1,
    warmup: int = 1,
    **params: object,
) -> Measurement:
    """Time `fn` `repeats` times after `warmup` calls, then measure its memory in one more."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    peak, growth = peak_rss(fn)
    tracemalloc.start()
    fn()
    _, peak_python = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = Measurement(name, dict(params), seconds, peak, growth, peak_python / 2**20, items)
    print(f"  {name} {params}: median {result.median_s * 1e3:.1f} ms", flush=True)
    return result


def measure_once(name: str, fn: Callable[[], object], **params: object) -> Measurement:
    """Time one call of `fn` and read its peak memory in that same call: for cases too
    long to repeat (a 5 MB import), where a warm-up would not change what a user waits."""
    start = time.perf_counter()
    peak, growth = peak_rss(fn)
    result = Measurement(name, dict(params), [time.perf_counter() - start], peak, growth, None)
    peak_text = "?" if peak is None else f"{peak:.0f}"
    print(f"  {name} {params}: {result.median_s:.1f} s, peak {peak_text} MiB", flush=True)
    return result


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1) if match else platform.processor()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict:
    """The facts a reader needs to compare numbers: hardware, load, threads, versions."""
    import torch

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["torch"] = torch.__version__  # includes the build (e.g. +cu128)
    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1m": os.getloadavg()[0],
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "git_commit": _git_commit(),
        "versions": versions,
    }


def write_results(suite: str, results: list[Measurement], extra: dict | None = None) -> Path:
    """Write one suite's measurements with the machine facts to results/<suite>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{suite}.json"
    payload = {
        "suite": suite,
        "machine": machine_info(),
        **(extra or {}),
        "results": [r.to_dict() for r in results],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
