"""Run benchmarks: ``python -m bench`` (all) or ``python -m bench NAME …``.

Each benchmark is a module ``bench/<name>.py`` with a ``main()`` that prints
``name: value unit (ratio vs reference)`` lines and the peak RSS of what it
measured (see ``bench/_report.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def run(names: list[str]) -> int:
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.stderr.write(f"bench: unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(known)}\n")
        return 2
    for name in names or known:
        sys.stdout.write(f"== {name}\n")
        sys.stdout.flush()
        start = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        sys.stdout.write(f"== {name} done in {time.perf_counter() - start:.1f} s\n")
    return 0


if __name__ == "__main__":
    from rsarchive.runtime import configure_process

    configure_process()  # as every rsarchive process does at its start (warning filters)
    args = [a for arg in sys.argv[1:] for a in arg.split()]
    sys.exit(run(args))
