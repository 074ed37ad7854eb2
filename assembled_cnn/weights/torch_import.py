"""Assigns PyTorch state dicts (torchvision ResNets, MoCo v2, EfficientNet-Lite) to our models.

A layout is a list of (regex on our Keras layer name, replacement giving the torch prefix). The
kind of each layer decides how its tensors are copied: conv (O, I, kh, kw) -> (kh, kw, I, O),
depthwise (C, 1, kh, kw) -> (kh, kw, C, 1), dense (out, in) -> (in, out), BN
weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance. Every model
weight is assigned or reported missing, every state-dict tensor used or reported unexpected,
with shapes, like `load_tf1_checkpoint`; a mismatch is an error unless the head is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from assembled_cnn.errors import UserError
from assembled_cnn.nets.model_info import HEAD_LAYERS, is_batch_norm_folded, model_info
from assembled_cnn.weights.torch_reader import TorchCheckpointError, load_torch_file

_BN_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
_IGNORED = re.compile(r"(num_batches_tracked$)")
MOCO_PREFIX = "module.encoder_q."

EFFICIENTNET_LITE_LAYOUT = [
    (r"stem_conv", "_conv_stem"), (r"stem_conv_bn", "_bn0"),
    (r"b(\d+)_expand", r"_blocks.\1._expand_conv"), (r"b(\d+)_expand_bn", r"_blocks.\1._bn0"),
    (r"b(\d+)_dw", r"_blocks.\1._depthwise_conv"), (r"b(\d+)_dw_bn", r"_blocks.\1._bn1"),
    (r"b(\d+)_project", r"_blocks.\1._project_conv"), (r"b(\d+)_project_bn", r"_blocks.\1._bn2"),
    (r"head_conv", "_conv_head"), (r"head_conv_bn", "_bn1"), (r"logits", "_fc"),
]
# timm's SEModule (seresnet*): `se.fc1` / `se.fc2`, 1x1 convs with biases (our se_bias=True).
_TIMM_SE = [(r"s(\d)_b(\d+)_se_reduce", r"layer\1.\2.se.fc1"), (r"s(\d)_b(\d+)_se_expand", r"layer\1.\2.se.fc2")]
_RESNET_COMMON = [
    (r"stem_conv", "conv1"), (r"stem_conv_bn", "bn1"), (r"logits", "fc"),
    (r"s(\d)_b(\d+)_proj", r"layer\1.\2.downsample.0"), (r"s(\d)_b(\d+)_proj_bn", r"layer\1.\2.downsample.1"),
    *_TIMM_SE,
]
_BOTTLENECK_CONVS = [
    (r"s(\d)_b(\d+)_conv(\d)", r"layer\1.\2.conv\3"), (r"s(\d)_b(\d+)_conv(\d)_bn", r"layer\1.\2.bn\3"),
    *_TIMM_SE]
# timm resnet50d: deep stem conv1.{0,3,6} with BNs conv1.{1,4} and bn1; avg-pool shortcut, so the
# projection is downsample.1 (downsample.0 is the pool, or an Identity at stride 1).
TIMM_RESNET_D_LAYOUT = [
    (r"stem_conv(\d)", lambda m: f"conv1.{3 * (int(m[1]) - 1)}"),
    (r"stem_conv([12])_bn", lambda m: f"conv1.{3 * (int(m[1]) - 1) + 1}"), (r"stem_conv3_bn", "bn1"),
    (r"logits", "fc"), (r"s(\d)_b(\d+)_proj", r"layer\1.\2.downsample.1"),
    (r"s(\d)_b(\d+)_proj_bn", r"layer\1.\2.downsample.2"), *_BOTTLENECK_CONVS]
TORCHVISION_BOTTLENECK_LAYOUT = _RESNET_COMMON + _BOTTLENECK_CONVS
# Our basic block names its two 3x3 convs conv2/conv3 (the bottleneck's middle and last).
TORCHVISION_BASIC_LAYOUT = _RESNET_COMMON + [
    (r"s(\d)_b(\d+)_conv2", r"layer\1.\2.conv1"), (r"s(\d)_b(\d+)_conv2_bn", r"layer\1.\2.bn1"),
    (r"s(\d)_b(\d+)_conv3", r"layer\1.\2.conv2"), (r"s(\d)_b(\d+)_conv3_bn", r"layer\1.\2.bn2")]


class TorchImportError(UserError):
    """The state dict does not fit the model; the message lists names and shapes."""


@dataclass
class TorchImportReport:
    source: str
    assigned: list[tuple[str, str, tuple]] = field(default_factory=list)  # (torch name, keras var, shape)
    missing: list[tuple[str, tuple]] = field(default_factory=list)  # model weights kept as initialised
    unexpected: list[tuple[str, tuple]] = field(default_factory=list)  # state-dict tensors not used
    ignored: list[str] = field(default_factory=list)  # bookkeeping (num_batches_tracked)
    notes: list[str] = field(default_factory=list)  # where the model computes differently from the source

    def summary(self) -> str:
        lines = [f"weights {self.source}: assigned {len(self.assigned)} tensors"]
        for title, rows in (("kept freshly initialised", self.missing), ("not used", self.unexpected)):
            if rows:
                lines.append(f"  {title} ({len(rows)}): " + ", ".join(f"{n} {tuple(s)}" for n, s in rows))
        if self.ignored:
            lines.append(f"  ignored bookkeeping ({len(self.ignored)}): num_batches_tracked")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def extract_state_dict(obj, source: str = "") -> dict[str, np.ndarray]:
    """The tensors of a checkpoint: unwraps {'state_dict': ...}/{'model': ...}, DataParallel's
    `module.` prefix, and MoCo v2's query encoder (`module.encoder_q.`; the key encoder is dropped)."""
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, np.ndarray) for v in obj.values()):
        raise TorchCheckpointError(f"{source}: no state dict of tensors found (keys: {list(obj)[:8]})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if any(k.startswith(MOCO_PREFIX) for k in tensors):
        return {k[len(MOCO_PREFIX):]: v for k, v in tensors.items() if k.startswith(MOCO_PREFIX)}
    if all(k.startswith("module.") for k in tensors):
        return {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def layout_for(model: keras.Model) -> list[tuple[str, str]]:
    config = model_info(model).config
    if config.architecture == "efficientnet_lite":
        return EFFICIENTNET_LITE_LAYOUT
    plain = config.architecture == "resnet" and config.resnet_version == 1 and not (
        config.use_sk_block or config.anti_alias_parts)
    if plain and config.use_resnet_d and config.uses_bottleneck:
        return TIMM_RESNET_D_LAYOUT
    if plain and not config.use_resnet_d:
        return TORCHVISION_BOTTLENECK_LAYOUT if config.uses_bottleneck else TORCHVISION_BASIC_LAYOUT
    raise TorchImportError(f"no PyTorch layout for model {model.name!r} ({config.architecture}); supported: "
                           "efficientnet_lite*, plain resnet18/34/50/101/152 (torchvision/MoCo v2), "
                           "resnet50d/101d/152d (timm), se_resnet50 with se_bias=True (timm seresnet50)")


def torch_prefix(layer_name: str, layout) -> str | None:
    for pattern, replacement in layout:  # replacement: a template or a function of the match
        if re.fullmatch(pattern, layer_name):
            return re.sub(pattern, replacement, layer_name)
    return None


def _converted(layer, var_name: str, value: np.ndarray) -> np.ndarray:
    if isinstance(layer, keras.layers.DepthwiseConv2D) and var_name == "kernel":
        return value.transpose(2, 3, 0, 1)
    if isinstance(layer, keras.layers.Conv2D) and var_name == "kernel":
        return value.transpose(2, 3, 1, 0)
    if isinstance(layer, keras.layers.Dense) and var_name == "kernel":
        return value.T
    return value


def _torch_name(layer, var_name: str, prefix: str) -> str:
    if isinstance(layer, keras.layers.BatchNormalization):
        return f"{prefix}.{_BN_NAMES[var_name]}"
    return f"{prefix}.{'weight' if var_name in ('kernel', 'depthwise_kernel') else var_name}"


@dataclass(frozen=True)
class Convention:
    """How a source names (layer, variable) given the layer's source prefix, and how its values
    become ours."""
    tensor_name: Callable[[keras.layers.Layer, str, str], str]
    convert: Callable[[keras.layers.Layer, str, np.ndarray], np.ndarray]


TORCH = Convention(_torch_name, _converted)


def plan_import(model: keras.Model, tensors: dict, layout, skip_head: bool, convention: Convention = TORCH):
    """[(source name, layer, variable)] to assign, and the report's missing/unexpected lists."""
    plan, missing, used = [], [], set()
    for layer in model.layers:
        prefix = torch_prefix(layer.name, layout) if layer.weights else None
        for var in layer.weights:
            name = convention.tensor_name(layer, var.name, prefix) if prefix else None
            if name is None or name not in tensors or (skip_head and layer.name in HEAD_LAYERS):
                missing.append((f"{layer.name}/{var.name}", tuple(var.shape)))
                used.add(name)  # a skipped head's tensors are not "unexpected"
                continue
            plan.append((name, layer, var))
            used.add(name)
    unexpected = [(n, tuple(v.shape)) for n, v in tensors.items() if n not in used and not _IGNORED.search(n)]
    return plan, missing, unexpected


def assign_tensors(model: keras.Model, tensors: dict, layout, *, source: str, skip_head: bool = False,
                   convention: Convention = TORCH, notes=()) -> TorchImportReport:
    """Copy `tensors` (source name -> array) into `model` by `layout`; raises on any misfit."""
    if is_batch_norm_folded(model):
        raise TorchImportError(f"model {model.name!r} has folded BatchNorms; import into the unfolded model")
    plan, missing, unexpected = plan_import(model, tensors, layout, skip_head, convention)
    wrong = [(n, f"model {tuple(v.shape)} vs file {tensors[n].shape}") for n, layer, v in plan
             if convention.convert(layer, v.name, tensors[n]).shape != tuple(v.shape)]
    head_only = all(n.split("/")[0] in HEAD_LAYERS for n, _ in missing)
    if wrong or unexpected or (missing and not (skip_head and head_only)):
        raise TorchImportError(_misfit_message(source, missing, wrong, unexpected))
    report = TorchImportReport(source, missing=missing, ignored=sorted(n for n in tensors if _IGNORED.search(n)),
                               notes=list(notes))
    for name, layer, var in plan:
        var.assign(convention.convert(layer, var.name, tensors[name]).astype(var.dtype))
        report.assigned.append((name, f"{layer.name}/{var.name}", tuple(var.shape)))
    return report


def load_torch_weights(model: keras.Model, source, skip_head: bool = False) -> TorchImportReport:
    """Assign a PyTorch checkpoint (path or state dict) to `model`; raises on any misfit."""
    name = str(source) if not isinstance(source, dict) else "<state dict>"
    tensors = extract_state_dict(source if isinstance(source, dict) else load_torch_file(source), name)
    refuse_unmappable(model, tensors, name)
    return assign_tensors(model, tensors, layout_for(model), source=name, skip_head=skip_head,
                          notes=_inexact_notes(model))


_TIMM_SK = re.compile(r"^layer\d\.\d+\.conv\d\.(paths|attn)\.")
_LEGACY_SENET = re.compile(r"^layer0\.|\.se_module\.")
_TIMM_SE_KEY = re.compile(r"^layer\d\.\d+\.se\.fc1\.")


def refuse_unmappable(model: keras.Model, tensors: dict, name: str) -> None:
    """One-line refusal of the state dicts whose architecture no model of ours computes."""
    keys = list(tensors)
    if any(_TIMM_SK.search(k) for k in keys):
        raise TorchImportError(
            f"{name}: timm SK-ResNet (skresnet*) weights cannot map onto our SK unit: timm's second path is a "
            "3x3 conv at dilation 2 (its 5x5) on half of the input channels (conv2.paths.1), ours are the two "
            "undilated halves of one 3x3 conv over all inputs (the original's SK), and its attention width is "
            "C/16 rounded to 8 where ours is max(C/2, 32)")
    if any(_LEGACY_SENET.search(k) for k in keys):
        raise TorchImportError(
            f"{name}: legacy SENet weights (layer0 / se_module: Cadene's se_resnet, timm legacy_seresnet*) stride "
            "in the first 1x1 conv of a block (Caffe style) where ours stride in the 3x3; use timm seresnet50 "
            "weights (layerN.M.se.fc1) with se_resnet50, se_bias=True")
    has_se = any(_TIMM_SE_KEY.search(k) for k in keys)
    config = model_info(model).config
    if has_se and config.architecture == "resnet" and not (config.use_se_block and config.se_bias):
        raise TorchImportError(
            f"{name}: the file has timm SE blocks with biases (layerN.M.se.fc1/fc2); build the model with "
            "use_se_block=True, se_bias=True (e.g. build_model('se_resnet50', se_bias=True)) to import it")


def _inexact_notes(model: keras.Model) -> list[str]:
    config = model_info(model).config
    notes = []
    if config.architecture == "resnet" and config.stem_pool_padding != "symmetric":
        notes.append("the stem max-pool pads TF 'SAME' (0 before, 1 after) where torch pads 1 on both sides; "
                     "build the model with stem_pool_padding='symmetric' for an exact import")
    if config.architecture == "resnet" and config.use_resnet_d and config.resnet_d_stride1_pool:
        notes.append("the stage-1 shortcut avg-pools at stride 1 (the original's quirk) where timm does not; "
                     "build the model with resnet_d_stride1_pool=False for an exact import")
    return notes


def _misfit_message(name, missing, wrong, unexpected) -> str:
    parts = [f"weights {name} do not match the model:"]
    for title, rows in (("model weights missing from the file", missing), ("shape mismatches", wrong),
                        ("file tensors the model does not have", unexpected)):
        if rows:
            parts.append(f"{len(rows)} {title}: " + "; ".join(f"{n} {s}" for n, s in rows[:20]) + ".")
    parts.append("Hint: the preset must match the file (e.g. resnet50 with num_classes=1000); "
                 "skip_head=True keeps a fresh classifier (MoCo v2 files have none).")
    return " ".join(parts)  # one line: the command lines print it as `error: ...`
