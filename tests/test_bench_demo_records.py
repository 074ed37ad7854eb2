"""benchmarks/bench_demo.py's recorded runs still match the recipes named in it: changing the demo's
defaults must not silently change what an old row claims it measured (the README quotes them)."""

import dataclasses
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_bench_demo():
    spec = importlib.util.spec_from_file_location("bench_demo", ROOT / "benchmarks" / "bench_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_recorded_run_is_the_recipe_its_name_says():
    bench = load_bench_demo()
    rows = bench.load_results()
    assert rows, "benchmarks/results/bench_demo.json is committed"
    for row in rows:
        assert row["recipe"] in bench.RECIPES, f"{row['recipe']} is recorded but no longer defined"
        wanted = dataclasses.asdict(dataclasses.replace(bench.RECIPES[row["recipe"]], seed=row["seed"]))
        assert bench.recorded_recipe(row) == wanted, f"{row['recipe']} seed {row['seed']} ran another recipe"


def test_the_default_is_the_recipe_measured_last():
    """`default` is what `make demo` trains; the README's headline figures are v23's runs."""
    bench = load_bench_demo()
    assert bench.RECIPES["default"] == bench.RECIPES["v23_noSK_13ep_shift2_evals1"]
    assert bench.DEFAULT_2026_11_28.epochs == 8.0 and bench.DEFAULT_2026_11_28.use_sk_block
