"""How fast the command line answers when it has nothing heavy to do.

    .venv/bin/python -m bench.bench_cli [--runs 10]

Wall time of whole `amu-bot` processes (interpreter start-up included), median and max of
`--runs` runs each: `--help` (the target: well under 0.5 s), `--version`, a subcommand's help,
a usage error, and `import bot.cli` alone. The machine's CPU, its cores and the date are
printed with the figures, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

TARGET_S = 0.5


def amu_bot() -> list[str]:
    """The installed console script beside this interpreter, else `python -m bot`."""
    exe = shutil.which("amu-bot", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "bot"]


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (the platform's processor name elsewhere)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def wall_times(command: list[str], runs: int, expect: int) -> list[float]:
    """Seconds per run of `command`, which must exit with `expect` each time."""
    env = {**os.environ, "LANG": "uk_UA.UTF-8", "COLUMNS": "80"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - our own console script
            command, env=env, capture_output=True, check=False
        )
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{command}: exit {done.returncode}\n{done.stderr.decode()}")
    return times


def main() -> None:
    """Measure and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cli = amu_bot()
    cases = [
        ("`amu-bot --help`", [*cli, "--help"], 0),
        ("`amu-bot --version`", [*cli, "--version"], 0),
        ("`amu-bot report dues --help`", [*cli, "report", "dues", "--help"], 0),
        ("`amu-bot invite` (usage error)", [*cli, "invite"], 2),
        ("`python -c 'import bot.cli'`", [sys.executable, "-c", "import bot.cli"], 0),
        ("`python -c 'pass'` (interpreter alone)", [sys.executable, "-c", "pass"], 0),
    ]
    wall_times([*cli, "--help"], 2, 0)  # warm the file cache and the .pyc files
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.runs} runs each\n")
    print("| command | median | max |")
    print("|---|---:|---:|")
    medians = {}
    for name, command, expect in cases:
        times = wall_times(command, args.runs, expect)
        medians[name] = statistics.median(times)
        print(f"| {name} | {medians[name] * 1000:.0f} ms | {max(times) * 1000:.0f} ms |")
    verdict = "PASS" if medians["`amu-bot --help`"] < TARGET_S else "FAIL"
    print(f"\n`amu-bot --help` under {TARGET_S} s: {verdict}")


if __name__ == "__main__":
    main()
