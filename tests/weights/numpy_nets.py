"""Reference forward passes of PyTorch state dicts in numpy (float64), written from the source
architectures' definitions (efficientnet_pytorch / torchvision), independent of Keras."""

from __future__ import annotations

import numpy as np


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF/efficientnet_pytorch static "SAME": the odd pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv(x, w, stride=1, pads=None, groups=1):
    """NHWC x, torch (O, I/groups, kh, kw) w; pads ((top, bottom), (left, right)), default SAME."""
    out_c, _, kh, kw = w.shape
    if pads is None:
        pads = (same_pads(x.shape[1], kh, stride), same_pads(x.shape[2], kw, stride))
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    patches = np.stack([x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
                        for i in range(kh) for j in range(kw)], axis=-1)  # N, oh, ow, C, kh*kw
    if groups == 1:
        return np.einsum("nhwck,ock->nhwo", patches, w.reshape(out_c, w.shape[1], kh * kw))
    assert groups == x.shape[-1] == out_c  # depthwise
    return np.einsum("nhwck,ck->nhwc", patches, w.reshape(out_c, kh * kw))


def bn(x, sd, prefix, eps):
    scale = sd[f"{prefix}.weight"] / np.sqrt(sd[f"{prefix}.running_var"] + eps)
    return (x - sd[f"{prefix}.running_mean"]) * scale + sd[f"{prefix}.bias"]


def relu(x):
    return np.maximum(x, 0)


def relu6(x):
    return np.clip(x, 0, 6)


def linear(x, sd, prefix):
    return x @ sd[f"{prefix}.weight"].T + sd[f"{prefix}.bias"]


def max_pool_3x3_s2_pad1(x):
    """torch.nn.MaxPool2d(3, 2, padding=1): pads with -inf."""
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    oh, ow = (x.shape[1] - 3) // 2 + 1, (x.shape[2] - 3) // 2 + 1
    return np.max([x[:, i:i + 2 * (oh - 1) + 1:2, j:j + 2 * (ow - 1) + 1:2] for i in range(3) for j in range(3)],
                  axis=0)


# ---- EfficientNet-Lite (efficientnet_pytorch's MBConvBlock without SE, ReLU6) ----
def efficientnet_lite(sd, x, strides, eps=1e-3):
    x = relu6(bn(conv(x, sd["_conv_stem.weight"], 2), sd, "_bn0", eps))
    for i, stride in enumerate(strides):
        p = f"_blocks.{i}"
        y = x
        if f"{p}._expand_conv.weight" in sd:
            y = relu6(bn(conv(y, sd[f"{p}._expand_conv.weight"]), sd, f"{p}._bn0", eps))
        y = relu6(bn(conv(y, sd[f"{p}._depthwise_conv.weight"], stride, groups=y.shape[-1]), sd, f"{p}._bn1", eps))
        y = bn(conv(y, sd[f"{p}._project_conv.weight"]), sd, f"{p}._bn2", eps)
        x = x + y if stride == 1 and x.shape[-1] == y.shape[-1] else y
    x = relu6(bn(conv(x, sd["_conv_head.weight"]), sd, "_bn1", eps))
    return linear(x.mean(axis=(1, 2)), sd, "_fc")


# ---- torchvision ResNet (BasicBlock / Bottleneck with the stride on the 3x3 conv, "v1.5") ----
def _sym(k):
    return ((k // 2, k // 2), (k // 2, k // 2))


def _avg_pool_2x2_s2(x):
    """timm's AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) on even maps."""
    return (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) / 4


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def timm_se(sd, p, y):
    """timm's SEModule: mean -> 1x1 conv (+bias) -> ReLU -> 1x1 conv (+bias) -> sigmoid gate."""
    s = y.mean(axis=(1, 2))
    s = relu(s @ sd[f"{p}.fc1.weight"][:, :, 0, 0].T + sd[f"{p}.fc1.bias"])
    s = s @ sd[f"{p}.fc2.weight"][:, :, 0, 0].T + sd[f"{p}.fc2.bias"]
    return y * _sigmoid(s)[:, None, None, :]


def _shortcut(sd, p, x, stride, eps, avg_down):
    if not avg_down:  # torchvision: downsample = [1x1 conv (strided), BN]
        return bn(conv(x, sd[f"{p}.downsample.0.weight"], stride, _sym(1)), sd, f"{p}.downsample.1", eps)
    if stride > 1:  # timm "avg_down": [AvgPool (Identity at stride 1), 1x1 conv, BN]
        x = _avg_pool_2x2_s2(x)
    return bn(conv(x, sd[f"{p}.downsample.1.weight"], 1, _sym(1)), sd, f"{p}.downsample.2", eps)


def torchvision_resnet(sd, x, blocks, bottleneck, eps=1e-5, deep_stem=False):
    """torchvision ResNet; `deep_stem=True` is timm's resnet*d (3x3 stem convs conv1.0/3/6, avg_down);
    `layerN.M.se.*` tensors make it timm's seresnet."""
    if deep_stem:
        x = relu(bn(conv(x, sd["conv1.0.weight"], 2, _sym(3)), sd, "conv1.1", eps))
        x = relu(bn(conv(x, sd["conv1.3.weight"], 1, _sym(3)), sd, "conv1.4", eps))
        x = relu(bn(conv(x, sd["conv1.6.weight"], 1, _sym(3)), sd, "bn1", eps))
    else:
        x = relu(bn(conv(x, sd["conv1.weight"], 2, _sym(7)), sd, "bn1", eps))
    x = max_pool_3x3_s2_pad1(x)
    for stage, count in enumerate(blocks, start=1):
        for b in range(count):
            p, stride = f"layer{stage}.{b}", 2 if stage > 1 and b == 0 else 1
            shortcut = x
            if any(k.startswith(f"{p}.downsample.") for k in sd):
                shortcut = _shortcut(sd, p, x, stride, eps, avg_down=deep_stem)
            if bottleneck:
                y = relu(bn(conv(x, sd[f"{p}.conv1.weight"], 1, _sym(1)), sd, f"{p}.bn1", eps))
                y = relu(bn(conv(y, sd[f"{p}.conv2.weight"], stride, _sym(3)), sd, f"{p}.bn2", eps))
                y = bn(conv(y, sd[f"{p}.conv3.weight"], 1, _sym(1)), sd, f"{p}.bn3", eps)
            else:
                y = relu(bn(conv(x, sd[f"{p}.conv1.weight"], stride, _sym(3)), sd, f"{p}.bn1", eps))
                y = bn(conv(y, sd[f"{p}.conv2.weight"], 1, _sym(3)), sd, f"{p}.bn2", eps)
            if f"{p}.se.fc1.weight" in sd:  # timm seresnet: SE after the last BN, before the add
                y = timm_se(sd, f"{p}.se", y)
            x = relu(y + shortcut)
    return linear(x.mean(axis=(1, 2)), sd, "fc")
