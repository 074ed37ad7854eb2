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


def test_the_old_defaults_name_every_recipe_field():
    """UNTIL_2026_11_29 is written out in full: a field added to DemoRecipe later must be added
    there, with the value the old runs had (off), or this fails."""
    import ast

    bench = load_bench_demo()
    tree = ast.parse((ROOT / "benchmarks" / "bench_demo.py").read_text())
    call = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") == "UNTIL_2026_11_29")
    named = {keyword.arg for keyword in call.keywords}
    assert named == {field.name for field in dataclasses.fields(bench.DemoRecipe)}
