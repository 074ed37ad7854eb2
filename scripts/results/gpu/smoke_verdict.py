"""Did the tiny plan pass? One line; exit 0 when no job ended in an error and at least one (a) run
finished, 1 otherwise (device_run.sh). Jobs that the box stopped or never started are counted, not
failed: on a busy machine the tiny plan's compiles can outlast its box without anything being wrong.

    python3 smoke_verdict.py OUT/tiny/gpu_results.json BACKEND
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def verdict(path: Path, backend: str) -> tuple[bool, str]:
    if not path.exists():
        return False, f"smoke ({backend}): FAILED, {path} was not written"
    results = json.loads(path.read_text())
    stopped = [n for n, why in results.get("_failed", {}).items() if why.startswith("stopped at")]
    errors = [n for n in results.get("_failed", {}) if n not in stopped]
    kinds = {spec["name"]: spec["kind"] for spec in results.get("_plan", [])}
    trained = [n for n in results if kinds.get(n) == "assembled" and n not in stopped]
    counts = (f"({results.get('_wall_s', 0):.0f} s; {len(stopped)} stopped by the box, "
              f"{len(results.get('_not_started', []))} not started)")
    if errors:
        return False, f"smoke ({backend}): FAILED {', '.join(errors)} {counts}"
    if not trained:
        return False, f"smoke ({backend}): FAILED, no (a) run finished {counts}"
    return True, f"smoke ({backend}): ok {counts}"


def main() -> int:
    ok, line = verdict(Path(sys.argv[1]), sys.argv[2])
    print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
