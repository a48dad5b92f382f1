"""Run every benchmark one after the other (`make bench`), saving each JSON under bench-results/.

    python benchmarks/run_all.py [--out bench-results]

Each script runs in its own process, so peak-memory figures stay its own. About 7 minutes on
the 2-core development machine; figures go into BENCHMARKS.md by hand, with date and machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_train.py", "bench_inference.py", "bench_loader.py", "bench_synth.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description="run every benchmark")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for script in SCRIPTS:
        target = args.out / script.replace(".py", ".json")
        print(f"== {script} -> {target}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script), "--json", str(target)])
        if code != 0:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
