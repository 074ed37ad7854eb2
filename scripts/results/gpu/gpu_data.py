"""Data for the GPU runs: Fashion-MNIST from its idx files, the toolkit's input recipes in torch.

- (a) `cifar` preset at 56 px: 28-px images resized (bilinear) to 56, zero-pad 4, random 56² crop,
  horizontal flip, then (assembled arm) AutoAugment's CIFAR-10 policy on the uint8 image, in
  DataLoader workers. AutoAugment is torchvision's `AutoAugmentPolicy.CIFAR10` (the 25 published
  sub-policies); the CPU runs use the original's `good_policies` (95 sub-policies of the same
  search), which has no torch implementation.
- (c) EfficientNet-Lite input ((x − 127) / 128) at 224 px: Inception crop (area 0.1–1 of the
  image, aspect 3/4–4/3) + flip for training, centre 87.5 % crop for evaluation, both as one
  batched `roi_align` on the GPU.
- Corruptions: the 15 ImageNet-C corruptions × 5 severities of the reference implementation
  (`imagecorruptions`), on a fixed test subset, in a process pool (no TensorFlow there, so not
  the toolkit's own `assembled_cnn.robustness.corruptions`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# Where the torch data ops run: CUDA under the torch backend when there is a GPU; under JAX, which
# owns the GPU, and in the tests, the CPU.
DEVICE = "cuda" if torch.cuda.is_available() and os.environ.get("KERAS_BACKEND") == "torch" else "cpu"
MEANS = torch.tensor([123.68, 116.78, 103.94]).view(1, 3, 1, 1)  # the original's mean_subtract
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")


def load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, 28, 28] images and int64 labels of `train` or `t10k` (the toolkit's IDX reader)."""
    from assembled_cnn.datasets.builders.idx import read_idx

    images = read_idx(root / f"{split}-images-idx3-ubyte.gz")
    return images, read_idx(root / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)


def resize_uint8(images: np.ndarray, size: int) -> torch.Tensor:
    """[N, H, W] uint8 → [N, size, size] uint8, bilinear (half-pixel centres, as tf.image.resize)."""
    x = torch.from_numpy(np.array(images, copy=True)).float().unsqueeze(1)
    out = torch.cat([F.interpolate(x[i:i + 4096], size=(size, size), mode="bilinear", align_corners=False)
                     for i in range(0, x.shape[0], 4096)])
    return out.round().clamp(0, 255).to(torch.uint8).squeeze(1)


class CifarAugment(torch.utils.data.Dataset):
    """Pad-crop-flip (+ AutoAugment) of gray images, returned as 3-channel uint8 [3, S, S]."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray, autoaugment: bool, padding: int = 4):
        self.images, self.labels, self.padding = images, torch.from_numpy(labels), padding
        self.autoaugment = None
        if autoaugment:
            from torchvision.transforms import v2

            self.autoaugment = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int):
        image, size, pad = self.images[index], self.images.shape[-1], self.padding
        padded = F.pad(image, (pad, pad, pad, pad))
        top, left = torch.randint(0, 2 * pad + 1, (2,)).tolist()
        image = padded[top:top + size, left:left + size]
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        image = image.unsqueeze(0).expand(3, size, size).contiguous()
        if self.autoaugment is not None:
            image = self.autoaugment(image)
        return image, self.labels[index]


def _seed_worker(seed: int, worker: int) -> None:
    torch.manual_seed(seed * 1000 + worker)


def train_loader(dataset: torch.utils.data.Dataset, batch_size: int, seed: int, workers: int):
    """Spawned workers: forking a process that already runs JAX's threads can deadlock."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                       num_workers=workers, generator=generator, persistent_workers=workers > 0,
                                       pin_memory=DEVICE == "cuda", worker_init_fn=functools.partial(_seed_worker, seed),
                                       multiprocessing_context="spawn" if workers > 0 else None)


def to_inputs(batch_uint8: torch.Tensor, device) -> torch.Tensor:
    """[N, 3, H, W] (or gray [N, H, W]) uint8 → float NHWC, mean-subtracted, on `device`."""
    x = batch_uint8.to(device, non_blocking=True).float()
    if x.dim() == 3:
        x = x.unsqueeze(1).expand(-1, 3, -1, -1)
    return (x - MEANS.to(device)).permute(0, 2, 3, 1).contiguous()


# ----------------------------------------------------------------------------- EfficientNet-Lite input

def _crop_resize(gray: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crop each [x1, y1, x2, y2] box of its image and resize it to size² (bilinear)."""
    from torchvision.ops import roi_align

    index = torch.arange(gray.shape[0], device=gray.device, dtype=boxes.dtype).unsqueeze(1)
    return roi_align(gray.float().unsqueeze(1), torch.cat([index, boxes], 1), output_size=size,
                     spatial_scale=1.0, sampling_ratio=2, aligned=True)


def lite_inputs(crops: torch.Tensor) -> torch.Tensor:
    """[N, 1, S, S] float 0-255 → NHWC 3-channel (x − 127) / 128."""
    return ((crops - 127.0) / 128.0).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous()


def inception_crop(gray: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Random area 0.1–1, aspect 3/4–4/3 crops (clipped to the image), flipped half the time."""
    n, h, w = gray.shape
    area = torch.empty(n).uniform_(0.1, 1.0, generator=generator) * h * w
    aspect = torch.empty(n).uniform_(0.75, 1.33, generator=generator)
    cw, ch = (area * aspect).sqrt().clamp(max=w), (area / aspect).sqrt().clamp(max=h)
    x1 = torch.rand(n, generator=generator) * (w - cw)
    y1 = torch.rand(n, generator=generator) * (h - ch)
    boxes = torch.stack([x1, y1, x1 + cw, y1 + ch], 1).to(gray.device)
    crops = _crop_resize(gray, boxes, size)
    flip = (torch.rand(n, generator=generator) < 0.5).to(gray.device)
    crops = torch.where(flip.view(-1, 1, 1, 1), crops.flip(-1), crops)
    return lite_inputs(crops)


def centre_crop(gray: torch.Tensor, size: int, fraction: float = 0.875) -> torch.Tensor:
    n, h, w = gray.shape
    margin_h, margin_w = h * (1 - fraction) / 2, w * (1 - fraction) / 2
    box = torch.tensor([margin_w, margin_h, w - margin_w, h - margin_h], device=gray.device)
    return lite_inputs(_crop_resize(gray, box.expand(n, 4), size))


# ----------------------------------------------------------------------------- corruptions

def _corrupt_one(args) -> np.ndarray:
    image, name = args
    from imagecorruptions import corrupt

    return np.stack([np.asarray(corrupt(image, corruption_name=name, severity=s), np.uint8)[..., :3]
                     for s in range(1, 6)])


def corrupted_subset(images: np.ndarray, workers: int) -> np.ndarray:
    """[15, 5, N, S, S, 3] uint8: every image under every corruption and severity."""
    from multiprocessing import get_context

    rgb = [np.repeat(image[..., None], 3, axis=-1) for image in images]
    tasks = [(image, name) for name in CORRUPTIONS for image in rgb]
    with get_context("spawn").Pool(workers) as pool:
        results = pool.map(_corrupt_one, tasks, chunksize=16)
    n = len(rgb)
    return np.stack([np.stack(results[i * n:(i + 1) * n], axis=1) for i in range(len(CORRUPTIONS))])
