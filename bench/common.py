"""What every section of the benchmark shares: load, memory, timing, subprocesses, tables.

Does not: measure anything by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def machine() -> dict:
    """Load averages (1, 5, 15 min) and core count, recorded with every section."""
    one, five, fifteen = os.getloadavg()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "cores": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def percentiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def size_on_disk(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_worker(func: str, timeout: float = 7200, env: dict | None = None, **kwargs) -> dict:
    """Call `bench.<module>.<function>(**kwargs)` in a fresh Python; its JSON result.

    A fresh process per measurement keeps memory figures clean (RSS before and after).
    """
    module, name = func.rsplit(".", 1)
    code = ("import json, sys, importlib\n"
            f"fn = getattr(importlib.import_module('bench.{module}'), {name!r})\n"
            "out = fn(**json.loads(sys.argv[1]))\n"
            "print('\\n@@RESULT@@' + json.dumps(out))\n")
    result = subprocess.run([PYTHON, "-c", code, json.dumps(kwargs)], capture_output=True,
                            text=True, timeout=timeout, cwd=ROOT, check=False,
                            env={**os.environ, **(env or {})})
    marker = result.stdout.rfind("@@RESULT@@")
    if result.returncode != 0 or marker < 0:
        raise RuntimeError(f"bench worker {func} failed ({result.returncode}):\n"
                           f"{result.stderr[-3000:]}")
    return json.loads(result.stdout[marker + len("@@RESULT@@"):])


def run_command(argv: list[str], *, env: dict | None = None, timeout: float = 600) -> float:
    """Wall seconds of one command in a new process (it must exit 0)."""
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                            env={**os.environ, **(env or {})}, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed:\n{result.stderr[-2000:]}")
    return seconds


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1m' -> 1000000, '2500' -> 2500."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def table(rows: list[dict], columns: list[str], title: str) -> str:
    """A plain-text table of `columns` (missing cells are blank)."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.rjust(w) for c, w in zip(columns, widths))
    out = [title, line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_results(results: dict, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)
    return path


def print_report(report: dict, out: Path | None = None) -> int:
    """Print `report` as indented JSON, also to the file `out` when given; exit status 0."""
    text = json.dumps(report, indent=1)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
