"""The (c, d) section of docs/results.md: exp_transfer.py's stored cells as tables, paired
verdicts, the searched grids and a figure (read only from the JSON the experiment wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import common

AUX_ARMS = ("finetune_l2sp", "finetune_ema")
REGIMES = ("fixed", "finetune", "random")


def out_dir(results_dir: Path | None = None) -> Path:
    return Path(results_dir or common.RESULTS_DIR) / "cd_transfer"


def load_cells(results_dir: Path) -> dict[tuple[str, int, str], dict[int, dict]]:
    """{(target, per_class, arm): {seed: cell}} of every stored final cell."""
    cells: dict = {}
    for path in sorted((out_dir(results_dir) / "cells").glob("*/n*/*/seed*.json")):
        key = (path.parts[-4], int(path.parts[-3][1:]), path.parts[-2])
        cells.setdefault(key, {})[int(path.stem[4:])] = json.loads(path.read_text())
    return cells


def planned(proto: dict) -> list[tuple[str, int, str]]:
    keys = [(t, n, r) for t in proto["targets"] for r in REGIMES for n in proto["sizes"][r].get(t, [])]
    target, per_class = proto["aux"]
    return keys + ([(target, per_class, a) for a in AUX_ARMS] if target in proto["targets"] else [])


def _values(cells: dict, key: tuple, field: str, scale: float = 1.0) -> dict[int, float]:
    return {seed: cell[field] * scale for seed, cell in cells.get(key, {}).items()}


def _table(proto: dict, cells: dict, field: str, scale: float, digits: int) -> list[str]:
    lines = ["| target | labelled / class | " + " | ".join(REGIMES) + " |", "|---|---:|" + "---:|" * len(REGIMES)]
    for target in proto["targets"]:
        for n in sorted({n for r in REGIMES for n in proto["sizes"][r].get(target, [])}):
            row = [common.format_mean_std(list(_values(cells, (target, n, r), field, scale).values()),
                                          digits=digits) if n in proto["sizes"][r].get(target, []) else "—"
                   for r in REGIMES]
            lines.append(f"| {target} | {n} | " + " | ".join(row) + " |")
    return lines


def verdict_rows(proto: dict, cells: dict, unfinished: set = frozenset()) -> list[dict]:
    """Paired (by seed) accuracy differences in points: one row per claim and cell; a claim whose
    trained arm's LR search is `unfinished` is pending, whatever finals are stored."""
    rows, expected = [], len(proto["seeds"])
    claims = (("(c) ImageNet pretraining beats random init", "random", "finetune"),
              ("(d) fine-tuning beats fixed features", "fixed", "finetune"))
    for claim, base, arm in claims:
        for target in proto["targets"]:
            for n in proto["sizes"]["finetune"].get(target, []):
                row = common.verdict_row(f"{claim} ({target}, {n}/class)", _values(cells, (target, n, base), "top1"),
                                         _values(cells, (target, n, arm), "top1"), scale=100, unit=" pts",
                                         expected=expected)
                row = _unless_searching(row, [(target, n, r) for r in (base, arm)], unfinished)
                rows.append({**row, "scope": f"{target}, {n}/class", "headline": n == max(proto["sizes"]["finetune"][target])})
    target, n = proto["aux"]
    for claim, arm in (("(c, d) L2-SP beats L2 when fine-tuning", "finetune_l2sp"),
                       ("(c, d) EMA of the weights helps fine-tuning (decay 0.99, not searched)", "finetune_ema")):
        base, other = _matching_pairs(cells.get((target, n, "finetune"), {}), cells.get((target, n, arm), {}))
        row = common.verdict_row(f"{claim} ({target}, {n}/class)", {s: c["top1"] for s, c in base.items()},
                                 {s: c["top1"] for s, c in other.items()}, scale=100, unit=" pts", expected=expected)
        row = _unless_searching(row, [(target, n, "finetune")], unfinished)
        rows.append({**row, "scope": f"{target}, {n}/class"})
    return rows


def _unless_searching(row: dict, keys: list[tuple], unfinished: set) -> dict:
    """`row`, or pending when one of its arms' LR searches is unfinished (its finals may be of a
    recipe the finished search will not choose)."""
    waiting = [key[2] for key in keys if key in unfinished]
    if not waiting:
        return row
    return {**row, "effect": f"pending (the {' and '.join(waiting)} LR search is still running)",
            "interval": None, "verdict": "pending"}


def follows(variant: dict, finetune: dict) -> bool:
    """Whether an L2-SP or EMA recipe was built on this fine-tune recipe (its LR; L2-SP's β is the
    fine-tune's weight decay, EMA keeps it): only then is their difference the technique's."""
    if "l2sp_alpha" in variant:
        return (variant.get("learning_rate"), variant.get("l2sp_beta")) == \
            (finetune.get("learning_rate"), finetune.get("weight_decay"))
    return {k: v for k, v in variant.items() if k != "ema_decay"} == finetune


def _matching_pairs(finetune: dict[int, dict], variant: dict[int, dict]) -> tuple[dict, dict]:
    """The seeds where the variant's stored recipe follows the fine-tune's (a variant still at an
    earlier fine-tune recipe is left out: the claim waits for it)."""
    seeds = [s for s in finetune if s in variant and follows(variant[s].get("hp", {}), finetune[s].get("hp", {}))]
    return {s: finetune[s] for s in seeds}, {s: variant[s] for s in seeds}


def search_lines(results_dir: Path, unfinished: set = frozenset()) -> list[str]:
    """Every searched grid point with its validation top-1; the chosen one in bold; `unfinished`:
    the searches with points still to measure."""
    lines = ["| target | labelled / class | arm | grid point: validation top-1 (%) | chosen at the grid's edge in |",
             "|---|---:|---|---|---|"]
    for folder in sorted((out_dir(results_dir) / "search").glob("*/n*/*")):
        points = common.stored_points(folder)
        if not points:
            continue
        best = max(points, key=lambda p: p["top1"])   # ties: the earlier point, as common.search
        text = ", ".join(("**{}: {:.2f}**" if p is best else "{}: {:.2f}").format(_hp_text(p["hp"]), 100 * p["top1"])
                         for p in points)
        edges = ", ".join(edge_axes(points, best)) or "–"
        if (folder.parts[-3], int(folder.parts[-2][1:]), folder.name) in unfinished:
            edges += " (search still running: its grid grows past a chosen end)"
        lines.append(f"| {folder.parts[-3]} | {folder.parts[-2][1:]} | {folder.parts[-1]} | {text} | {edges} |")
    return lines


def edge_axes(points: list[dict], best: dict) -> list[str]:
    """The searched settings whose chosen value is the smallest or largest of three or more tried:
    the optimum may lie beyond the grid there (of two values, one is always an end: not flagged)."""
    axes = []
    for key, value in best["hp"].items():
        tried = sorted({p["hp"].get(key) for p in points})
        if len(tried) > 2 and value in (tried[0], tried[-1]):
            axes.append(_hp_text({key: value}).split("=")[0])
    return axes


def start_grid(proto: dict, regime: str) -> list[dict] | None:
    """`regime`'s starting LR × weight-decay grid in search order (a protocol of before the
    grids grew records none: None)."""
    if not proto.get("max_edge_steps") or regime not in proto.get("lr_grid", {}):
        return None
    if "search_grids" in proto:
        return proto["search_grids"][regime]
    return [{"learning_rate": lr, "weight_decay": wd} for wd in proto["wd_grid"] for lr in proto["lr_grid"][regime]]


def unfinished_searches(results_dir: Path, proto: dict) -> set[tuple[str, int, str]]:
    """(target, per_class, regime) whose LR search still has points to measure, the growth past
    a chosen end included (`common.grown_grid`, as exp_transfer.searched_lr runs it)."""
    unfinished = set()
    for folder in (out_dir(results_dir) / "search").glob("*/n*/*"):
        grid = start_grid(proto, folder.name)
        if grid is None:
            continue
        points = common.stored_points(folder)
        planned = common.grown_grid(grid, points, proto["lr_ladder"], lambda rate: [
            {"learning_rate": rate, "weight_decay": wd} for wd in proto["wd_grid"]])
        measured = {json.dumps(p["hp"], sort_keys=True) for p in points}
        searched = planned[:1] if proto.get("tiny") else planned   # a tiny run searches its first point only
        if any(json.dumps(hp, sort_keys=True) not in measured for hp in searched):
            unfinished.add((folder.parts[-3], int(folder.parts[-2][1:]), folder.name))
    return unfinished


def _hp_text(hp: dict) -> str:
    short = {"learning_rate": "lr", "weight_decay": "wd", "l2sp_alpha": "α", "l2sp_beta": "β", "ema_decay": "ema"}
    return " ".join(f"{short.get(k, k)}={v:g}" for k, v in hp.items() if k != "new_layers")


def aux_lines(proto: dict, cells: dict) -> list[str]:
    target, n = proto["aux"]
    lines = ["| fine-tuning arm | test top-1 (%) | recipe |", "|---|---:|---|"]
    for arm in ("finetune",) + AUX_ARMS:
        runs = cells.get((target, n, arm), {})
        recipe_text = _hp_text(next(iter(runs.values()))["hp"]) if runs else "pending"
        lines.append(f"| {arm} | {common.format_mean_std([c['top1'] for c in runs.values()], 100)} | {recipe_text} |")
    return lines


def figure(proto: dict, cells: dict, png_path: Path) -> str | None:
    """Test top-1 vs labelled images per class, one panel per target (mean ± std over seeds)."""
    from matplotlib.figure import Figure

    from assembled_cnn.report.plots import save_figure_atomic

    if not cells:
        return None
    fig = Figure(figsize=(4 * len(proto["targets"]), 3.4))
    for index, target in enumerate(proto["targets"]):
        axis = fig.add_subplot(1, len(proto["targets"]), index + 1)
        for regime in REGIMES:
            points = [(n, common.mean_std(list(_values(cells, (target, n, regime), "top1", 100).values())))
                      for n in proto["sizes"][regime].get(target, []) if cells.get((target, n, regime))]
            if points:
                axis.errorbar([p[0] for p in points], [p[1][0] for p in points], yerr=[p[1][1] for p in points],
                              marker="o", capsize=3, label=regime)
        axis.set_xscale("log")
        ticks = sorted({n for r in REGIMES for n in proto["sizes"][r].get(target, [])})
        axis.set_xticks(ticks, [str(n) for n in ticks])
        axis.minorticks_off()
        axis.set_title(target)
        axis.set_xlabel("labelled images per class")
        axis.set_ylabel("test top-1 (%)")
        axis.legend(fontsize=8)
    fig.tight_layout()
    return save_figure_atomic(fig, str(png_path))


def section(results_dir: Path, planned_protocol: dict) -> dict:
    """The (c, d) section and its verdict rows, from the stored JSON only (`planned_protocol`:
    the experiment's, for a results folder where it has not run yet)."""
    proto = common.load_json(out_dir(results_dir) / "protocol.json") or planned_protocol
    cells = load_cells(results_dir)
    keys = planned(proto)
    measured = sum(len(cells.get(k, {})) for k in keys)
    unfinished = unfinished_searches(results_dir, proto)
    rows = verdict_rows(proto, cells, unfinished)
    png = figure(proto, cells, results_dir.parent / "cd_transfer.png")
    md = [_budget_text(proto, cells, measured, len(keys) * len(proto["seeds"])), "", _protocol_text(proto), "",
          SEARCH_NOTE, "", "### Test top-1 (%), mean ± std over seeds", ""]
    md += _table(proto, cells, "top1", 100, 2)
    md += ["", "### Log-odds of test accuracy, log(p / (1 − p)), mean ± std over seeds", ""]
    md += _table(proto, cells, "log_odds", 1, 3)
    md += ["", "### Paired differences (points of top-1, by seed, 95 % t interval)", "",
           "| claim | effect | verdict |", "|---|---|---|"]
    md += [f"| {r['claim']} | {r['effect']} | {r['verdict']} |" for r in rows]
    md += ["", f"### L2-SP and EMA ({proto['aux'][0]}, {proto['aux'][1]}/class)", ""] + aux_lines(proto, cells)
    md += ["", "### Searched grids (validation carved from train, seed 0) and chosen points", ""]
    md += search_lines(results_dir, unfinished) + ["", _probe_text(results_dir)]
    if png:
        md += ["", f"![transfer accuracy vs labelled images per class]({Path(png).parent.name}/{Path(png).name})"]
    return {"markdown": "\n".join(md) + "\n", "verdicts": rows}


SEARCH_NOTE = """**One validation set for every regime.** Each regime chooses its hyperparameters on the
same labelled images held out of train (Fashion-MNIST / MNIST: 5,000; digits: 25 % of train),
training on the seed-0 N-per-class subset of the rest: fine-tune and random init their LR ×
weight decay, fixed features its C. (Until 2026-11-29 the probe chose C on 20 % of each seed's
subset instead, which gave the trained regimes more labelled images to choose with; those fixed
cells are kept under `superseded/`.) At 10 or 100 labels per class, 5,000 labelled validation
images are themselves more than the few-label premise allows, equally for every regime."""


def _budget_text(proto: dict, cells: dict, measured: int, total: int) -> str:
    seconds = sum(c.get("cell_seconds") or 0.0 for runs in cells.values() for c in runs.values())
    tiny = ", TINY mode" if proto["tiny"] else ""
    return (f"{measured} of {total} cells measured ({seconds / 60:.0f} min of cell time on a "
            f"{proto['cpus']}-CPU machine{tiny}); a missing cell reads *pending*.")


def _protocol_text(proto: dict) -> str:
    epochs_text = ", ".join(f"{n}/class: {e:g}" for n, e in proto["epochs"].items())
    return (f"{proto['weights']}; inputs {proto['image_size']} px, preset `{proto['preset']}` in every regime "
            "(the weights' (x − 127) / 128; train: Inception crop + flip, eval: resize + centre crop), chosen "
            "for the CPU budget: Lite0 runs ~320 img/s at 128 px vs ~130 at 224 here, and fine-tunes at "
            "~76 img/s, so fine-tuning at 1000/class is left to a faster machine. Each seed draws its own "
            "labelled subset of train and is scored on the full test split (digits: its fixed stratified 20 %). "
            "**fixed**: penultimate features + L-BFGS logistic regression, C (one per decade, 1e-6 to 1e5) "
            "chosen on validation as below, then fit on the whole subset; **finetune**: warm start (ImageNet weights and BN statistics) with a new head; "
            "**random**: the same network and recipe from random initialisation. Trained regimes: SGD + "
            f"momentum 0.9, batch {proto['batch_size']}, cosine LR with 10 % warm-up, BN momentum "
            f"{proto['bn_momentum']}, epochs ({epochs_text}); each regime's LR × weight decay from its own grid "
            f"of the same size (LR {proto['lr_grid']} × weight decay "
            f"{proto.get('wd_grid', [proto['weight_decay']])}){_edge_rule_text(proto)}, chosen per target and size "
            "on validation carved from train (seed 0), then seeds "
            f"{', '.join(map(str, proto['seeds']))} on the real split. L2-SP: α from {proto['l2sp_alphas']} "
            "(validated; β = the weight decay, on the re-initialised head; no plain decay), the LR of the "
            f"chosen L2 recipe; EMA decay {proto['ema_decay']:g}, evaluated on the EMA weights.")


def _edge_rule_text(proto: dict) -> str:
    """The rule that grows a grid past a chosen end (protocols before it have no max_edge_steps)."""
    steps = proto.get("max_edge_steps")
    if not steps:
        return ""
    ladder = ", ".join(f"{rate:g}" for rate in proto["lr_ladder"])
    return (f", grown, by the same rule for both regimes, by the next LR of the ladder ({ladder}) "
            f"(at each weight decay) whenever validation chose the lowest or highest LR tried, up to {steps} "
            "times; so the two regimes' grids can end up of different sizes (the grids table lists every "
            "point tried)")


def _probe_text(results_dir: Path) -> str:
    """The fixed regime's C per target and size, chosen on validation like the trained regimes'."""
    found = sorted((out_dir(results_dir) / "search").glob("*/n*/fixed/probe.json"))
    if not found:
        return "Fixed features: C search pending."
    parts = []
    for path in found:
        chosen = json.loads(path.read_text())
        parts.append(f"{path.parts[-4]} {path.parts[-3][1:]}/class: C={chosen['C']:g} "
                     f"({100 * chosen['top1']:.2f} %)")
    return "Fixed features, C chosen on validation (its validation top-1): " + "; ".join(parts) + "."
