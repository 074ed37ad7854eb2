"""Write docs/results.md from the suite's stored JSON results (docs/results/data).

    python scripts/results/make_report.py

Only reads what the experiments stored: a claim whose runs are not all measured is reported as
"pending", never estimated. Each experiment script provides ``section(results_dir)`` → its
markdown and its verdict rows (claim, paired effect with a 95 % interval, verdict); this file
puts the verdict table on top, then the sections, the budget and the machine.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from assembled_cnn.report.markdown import markdown_table  # noqa: E402
from assembled_cnn.utils.io import write_text_atomic  # noqa: E402

DOC = Path(os.environ.get("RESULTS_DOC", common.REPO / "docs" / "results.md"))
EXPERIMENTS = (
    ("exp_assembled", "a_assembled", "(a) Assembled vs vanilla ResNet: accuracy and corruption robustness"),
    ("exp_kd", "b_kd", "(b) Knowledge distillation"),
    ("exp_transfer", "cd_transfer", "(c, d) Transfer from ImageNet: EfficientNet-Lite0, fixed features vs "
                                    "fine-tuning vs random init"),
    ("exp_transfer_models", "cd_models", "(c) Better ImageNet networks, better fixed features? "
                                         "EfficientNet-Lite0, Lite1, Lite2"),
    ("exp_fixres", "e_fixres", "(e) FixRes: testing above the training resolution"),
)

INTRO = """Small, CPU-only versions of the project's claims, on real data (Fashion-MNIST, MNIST and
scikit-learn's digits, built offline by `python -m assembled_cnn.datasets.fetch`) and, for
transfer, real ImageNet weights (EfficientNet-Lite0; Lite1 and Lite2 for fixed features). Every number below is read from the JSON
files in `docs/results/data/` that the scripts in `scripts/results/` write as each run finishes;
rebuild everything (resumable: finished runs are skipped, a killed run resumes from its
checkpoint) and this page with

```bash
nohup scripts/results/run_all.sh > runs/results/log_all.txt 2>&1 &   # resumable
python scripts/results/make_report.py                                # rebuild this page only
```

Protocol (`scripts/results/common.py`): every recipe is chosen on a validation split carved from
the training split (Fashion-MNIST / MNIST: 5,000 of the 60,000 images held out, stratified, seed
1234; scikit-learn digits: 25 % of its 1,437 training images), never on the test split. The arms
that a claim compares get the same number of grid points, with the exceptions each section names
(ablation arms, EMA, the probe's C grid, FixRes's choice of size). One rule grows every learning-rate
grid of the CPU sections (`common.grown_search`; the GPU section's time-boxed plan has fixed grids): when validation chooses the lowest or highest LR tried, the next LR
beyond it is searched too, at most twice, for whichever arm it happens to; the grids can then differ
in size, and each section lists every point tried. The chosen recipe is then trained on the full training
split (or its N-per-class subsets) with seeds 0, 1, 2 and scored on the full test split (10,000
images; digits: 360). "±" is the sample standard deviation over seeds; an effect is the mean paired difference
over seeds with its 95 % Student-t interval. **Verdicts**: *reproduced* when the interval lies
entirely on the claimed side of zero, *not reproduced* when it lies entirely on the other side,
*inconclusive* when it contains zero, *pending* until all three seeds of both arms are measured.
These are small networks at CPU budgets: they test whether each effect shows at this scale, not
the ImageNet numbers of the papers.
"""


def load_section(module_name: str) -> dict:
    """The experiment's section; a script without one yet is reported as pending."""
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - a broken script must not hide the others' results
        return {"markdown": f"`scripts/results/{module_name}.py` cannot be imported ({type(error).__name__}: "
                            f"{error}).\n", "verdicts": []}
    if not hasattr(module, "section"):
        return {"markdown": f"`scripts/results/{module_name}.py` does not report yet.\n", "verdicts": []}
    return module.section(common.RESULTS_DIR)


def stored_results(root: Path, superseded: bool = False):
    """(path, payload) of every stored result under `root` that records its wall time; those kept
    under superseded/ (measured for a recipe since replaced) only when `superseded`."""
    for path in sorted(root.rglob("*.json")):
        if ("superseded" in path.relative_to(root).parts) != superseded:
            continue
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(payload, dict) and isinstance(payload.get("seconds"), (int, float)):
            yield path, payload


def compute_seconds(folder: str, superseded: bool = False) -> tuple[float, int]:
    """Summed wall time of the stored results under the experiment's folder, and their count."""
    found = [float(payload["seconds"]) for _, payload in stored_results(common.RESULTS_DIR / folder, superseded)]
    return sum(found), len(found)


def budget_table() -> str:
    rows = []
    for _, folder, title in EXPERIMENTS:
        seconds, count = compute_seconds(folder)
        old_seconds, old_count = compute_seconds(folder, superseded=True)
        rows.append({"experiment": title.split(":")[0], "stored results": count,
                     "compute (min, summed wall time)": f"{seconds / 60:.1f}",
                     "kept aside (superseded/, not in the verdicts)": f"{old_count} ({old_seconds / 60:.1f} min)"})
    return markdown_table(rows)


def verdict_table(verdicts: list[dict]) -> str:
    """The headline rows (a section marks the others `headline: False`; they stay in its own table)."""
    verdicts = [v for v in verdicts if v.get("headline", True)]
    if not verdicts:
        return "No verdicts yet.\n"
    return markdown_table([{"claim": v["claim"], "effect measured here (95 % CI)": v["effect"],
                            "verdict": v["verdict"]} for v in verdicts])


def machines() -> str:
    """The machines that measured the stored results (each result records its own)."""
    found: dict[str, int] = {}
    for _, payload in stored_results(common.RESULTS_DIR):
        name = payload.get("machine", "not recorded (stored before results recorded their machine; measured on the 2-core, no-GPU development machine of these sessions)")
        found[name] = found.get(name, 0) + 1
    return "\n".join(f"- {name}: {count} results" for name, count in sorted(found.items())) or "- none yet"


def build_page() -> str:
    sections = [(title, load_section(module)) for module, _, title in EXPERIMENTS]
    verdicts = [row for _, section in sections for row in section["verdicts"]]
    import section_gpu
    import section_zeroshot

    body = "\n".join(f"## {title}\n\n{section['markdown']}" for title, section in sections)
    return (f"# Measured results\n\n{INTRO}\n## Verdicts\n\n{verdict_table(verdicts)}\n"
            f"## Budget\n\nMachines that measured the stored results (the development machine, shared with "
            f"other work while the suite ran, so wall times are upper bounds):\n\n{machines()}\n\nThe GPU "
            f"runs have a section of their own at the end.\n\n"
            f"{budget_table()}\n{body}\n"
            f"## (f) Zero-shot retrieval: softmax vs ArcFace on Fashion-MNIST split by class\n\n"
            f"{section_zeroshot.section()}\n"
            f"## (a, c) at a larger scale on a GPU\n\n{section_gpu.section()}")


def main() -> None:
    write_text_atomic(str(DOC), build_page())
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
