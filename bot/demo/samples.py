"""The living samples for scripts/run-with-examples, which loads them with the ordinary CLI::

python -m bot.demo.samples OUT_DIR    # writes the moved CSV files, prints the dues year
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.clock import Clock
from bot.demo.seed import KYIV, DemoError, examples_folder, load_living_samples
from bot.i18n import Translator
from bot.services.sample_data import write_samples


def main(argv: list[str] | None = None) -> int:
    """Write the living samples to a folder and print the year to accrue."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.demo.samples",
        description="Write examples/ moved to the current year into OUT_DIR; print the year "
        "to pass to `amu-bot dues accrue --year`.",
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--examples", type=Path, default=None)
    args = parser.parse_args(argv)
    folder = args.examples or examples_folder()
    tr = Translator(KYIV)("en" if os.environ.get("LANG", "").lower().startswith("en") else "uk")
    try:
        samples = load_living_samples(folder, Clock(KYIV).today(), tr)
    except DemoError as exc:
        print(exc, file=sys.stderr)
        return 1
    write_samples(samples.files, args.out_dir)
    print(samples.accrual.year)
    return 0


if __name__ == "__main__":
    sys.exit(main())
