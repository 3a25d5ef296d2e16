"""Wall time of the light `talkzoo` verbs (`list`, `info`), median of N runs, as a ratio against
the bare interpreter start (`python -c pass`) measured in the same run.

    python benchmarks/cli_startup.py [--runs 5] [--out benchmarks/results/cli_startup.json]

Target (issue 2): `talkzoo list` under 1 s wall, median of 5, with plugins installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/cli_startup.json")
    args = parser.parse_args()
    exe = shutil.which("talkzoo") or str(Path(sys.executable).with_name("talkzoo"))
    baseline = _median_wall([sys.executable, "-c", "pass"], args.runs)
    result = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "runs": args.runs,
        "baseline": {"name": "python -c pass", "median_s": baseline},
        "commands": {},
    }
    for verb in (["list"], ["info", "dualtalker"]):
        median = _median_wall([exe, *verb], args.runs)
        result["commands"][" ".join(verb)] = {"median_s": median, "ratio_to_baseline": median / baseline}
        print(f"talkzoo {' '.join(verb):<16} median {median:.3f} s  ({median / baseline:.1f}x bare python)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
