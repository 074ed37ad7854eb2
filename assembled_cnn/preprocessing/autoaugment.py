"""AutoAugment (Cubuk et al., arXiv 1805.09501) as graph ops on uint8 images.

How it runs, as in the original: one sub-policy is picked uniformly at random; each of its
two ops is applied with its own probability at its level (see ``magnitudes`` for the
level → argument mapping).  Fill 128.

Policies (name → sub-policies):
  * ``imagenet``: the 25 ImageNet sub-policies of the paper (duplicates included, as
    published).  Used by the released Assemble-ResNet.
  * ``cifar10`` / ``good``: the original's ``good_policies`` (95 sub-policies found on
    CIFAR-10).  Used for the Food-101 fine-tuning recipe.
  * ``svhn``: the 25 SVHN sub-policies.  The original misspells one op as ``'contrast'``
    (and never registers the policy); here it is ``Contrast``.
  * ``v0``: the 25 sub-policies of ``policy_v0`` (EfficientNet / detection code, uses
    SolarizeAdd).
  * ``test``: one debug sub-policy.
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.preprocessing import magnitudes
from assembled_cnn.preprocessing import seeds as seeds_lib
from assembled_cnn.preprocessing.magnitudes import AugmentHParams

SubPolicy = tuple[tuple[str, float, int], tuple[str, float, int]]


def _p(op1: str, p1: float, m1: int, op2: str, p2: float, m2: int) -> SubPolicy:
    return ((op1, p1, m1), (op2, p2, m2))


IMAGENET_POLICY: tuple[SubPolicy, ...] = (
    _p("Posterize", 0.4, 8, "Rotate", 0.6, 9), _p("Solarize", 0.6, 5, "AutoContrast", 0.6, 5),
    _p("Equalize", 0.8, 8, "Equalize", 0.6, 3), _p("Posterize", 0.6, 7, "Posterize", 0.6, 6),
    _p("Equalize", 0.4, 7, "Solarize", 0.2, 4), _p("Equalize", 0.4, 4, "Rotate", 0.8, 8),
    _p("Solarize", 0.6, 3, "Equalize", 0.6, 7), _p("Posterize", 0.8, 5, "Equalize", 1.0, 2),
    _p("Rotate", 0.2, 3, "Solarize", 0.6, 8), _p("Equalize", 0.6, 8, "Posterize", 0.4, 6),
    _p("Rotate", 0.8, 8, "Color", 0.4, 0), _p("Rotate", 0.4, 9, "Equalize", 0.6, 2),
    _p("Equalize", 0.0, 7, "Equalize", 0.8, 8), _p("Invert", 0.6, 4, "Equalize", 1.0, 8),
    _p("Color", 0.6, 4, "Contrast", 1.0, 8), _p("Rotate", 0.8, 8, "Color", 1.0, 2),
    _p("Color", 0.8, 8, "Solarize", 0.8, 7), _p("Sharpness", 0.4, 7, "Invert", 0.6, 8),
    _p("ShearX", 0.6, 5, "Equalize", 1.0, 9), _p("Color", 0.4, 0, "Equalize", 0.6, 3),
    _p("Equalize", 0.4, 7, "Solarize", 0.2, 4), _p("Solarize", 0.6, 5, "AutoContrast", 0.6, 5),
    _p("Invert", 0.6, 4, "Equalize", 1.0, 8), _p("Color", 0.6, 4, "Contrast", 1.0, 8),
    _p("Equalize", 0.8, 8, "Equalize", 0.6, 3),
)

CIFAR10_POLICY: tuple[SubPolicy, ...] = (
    # exp0_0
    _p("Invert", 0.1, 7, "Contrast", 0.2, 6), _p("Rotate", 0.7, 2, "TranslateX", 0.3, 9),
    _p("Sharpness", 0.8, 1, "Sharpness", 0.9, 3), _p("ShearY", 0.5, 8, "TranslateY", 0.7, 9),
    _p("AutoContrast", 0.5, 8, "Equalize", 0.9, 2),
    # exp0_1
    _p("Solarize", 0.4, 5, "AutoContrast", 0.9, 3), _p("TranslateY", 0.9, 9, "TranslateY", 0.7, 9),
    _p("AutoContrast", 0.9, 2, "Solarize", 0.8, 3), _p("Equalize", 0.8, 8, "Invert", 0.1, 3),
    _p("TranslateY", 0.7, 9, "AutoContrast", 0.9, 1),
    # exp0_2
    _p("Solarize", 0.4, 5, "AutoContrast", 0.0, 2), _p("TranslateY", 0.7, 9, "TranslateY", 0.7, 9),
    _p("AutoContrast", 0.9, 0, "Solarize", 0.4, 3), _p("Equalize", 0.7, 5, "Invert", 0.1, 3),
    _p("TranslateY", 0.7, 9, "TranslateY", 0.7, 9),
    # exp0_3
    _p("Solarize", 0.4, 5, "AutoContrast", 0.9, 1), _p("TranslateY", 0.8, 9, "TranslateY", 0.9, 9),
    _p("AutoContrast", 0.8, 0, "TranslateY", 0.7, 9), _p("TranslateY", 0.2, 7, "Color", 0.9, 6),
    _p("Equalize", 0.7, 6, "Color", 0.4, 9),
    # exp1_0
    _p("ShearY", 0.2, 7, "Posterize", 0.3, 7), _p("Color", 0.4, 3, "Brightness", 0.6, 7),
    _p("Sharpness", 0.3, 9, "Brightness", 0.7, 9), _p("Equalize", 0.6, 5, "Equalize", 0.5, 1),
    _p("Contrast", 0.6, 7, "Sharpness", 0.6, 5),
    # exp1_1
    _p("Brightness", 0.3, 7, "AutoContrast", 0.5, 8),
    _p("AutoContrast", 0.9, 4, "AutoContrast", 0.5, 6), _p("Solarize", 0.3, 5, "Equalize", 0.6, 5),
    _p("TranslateY", 0.2, 4, "Sharpness", 0.3, 3), _p("Brightness", 0.0, 8, "Color", 0.8, 8),
    # exp1_2
    _p("Solarize", 0.2, 6, "Color", 0.8, 6), _p("Solarize", 0.2, 6, "AutoContrast", 0.8, 1),
    _p("Solarize", 0.4, 1, "Equalize", 0.6, 5), _p("Brightness", 0.0, 0, "Solarize", 0.5, 2),
    _p("AutoContrast", 0.9, 5, "Brightness", 0.5, 3),
    # exp1_3
    _p("Contrast", 0.7, 5, "Brightness", 0.0, 2), _p("Solarize", 0.2, 8, "Solarize", 0.1, 5),
    _p("Contrast", 0.5, 1, "TranslateY", 0.2, 9), _p("AutoContrast", 0.6, 5, "TranslateY", 0.0, 9),
    _p("AutoContrast", 0.9, 4, "Equalize", 0.8, 4),
    # exp1_4
    _p("Brightness", 0.0, 7, "Equalize", 0.4, 7), _p("Solarize", 0.2, 5, "Equalize", 0.7, 5),
    _p("Equalize", 0.6, 8, "Color", 0.6, 2), _p("Color", 0.3, 7, "Color", 0.2, 4),
    _p("AutoContrast", 0.5, 2, "Solarize", 0.7, 2),
    # exp1_5
    _p("AutoContrast", 0.2, 0, "Equalize", 0.1, 0), _p("ShearY", 0.6, 5, "Equalize", 0.6, 5),
    _p("Brightness", 0.9, 3, "AutoContrast", 0.4, 1), _p("Equalize", 0.8, 8, "Equalize", 0.7, 7),
    _p("Equalize", 0.7, 7, "Solarize", 0.5, 0),
    # exp1_6
    _p("Equalize", 0.8, 4, "TranslateY", 0.8, 9), _p("TranslateY", 0.8, 9, "TranslateY", 0.6, 9),
    _p("TranslateY", 0.9, 0, "TranslateY", 0.5, 9), _p("AutoContrast", 0.5, 3, "Solarize", 0.3, 4),
    _p("Solarize", 0.5, 3, "Equalize", 0.4, 4),
    # exp2_0
    _p("Color", 0.7, 7, "TranslateX", 0.5, 8), _p("Equalize", 0.3, 7, "AutoContrast", 0.4, 8),
    _p("TranslateY", 0.4, 3, "Sharpness", 0.2, 6), _p("Brightness", 0.9, 6, "Color", 0.2, 8),
    _p("Solarize", 0.5, 2, "Invert", 0.0, 3),
    # exp2_1
    _p("AutoContrast", 0.1, 5, "Brightness", 0.0, 0), _p("Cutout", 0.2, 4, "Equalize", 0.1, 1),
    _p("Equalize", 0.7, 7, "AutoContrast", 0.6, 4), _p("Color", 0.1, 8, "ShearY", 0.2, 3),
    _p("ShearY", 0.4, 2, "Rotate", 0.7, 0),
    # exp2_2
    _p("ShearY", 0.1, 3, "AutoContrast", 0.9, 5), _p("TranslateY", 0.3, 6, "Cutout", 0.3, 3),
    _p("Equalize", 0.5, 0, "Solarize", 0.6, 6), _p("AutoContrast", 0.3, 5, "Rotate", 0.2, 7),
    _p("Equalize", 0.8, 2, "Invert", 0.4, 0),
    # exp2_3
    _p("Equalize", 0.9, 5, "Color", 0.7, 0), _p("Equalize", 0.1, 1, "ShearY", 0.1, 3),
    _p("AutoContrast", 0.7, 3, "Equalize", 0.7, 0), _p("Brightness", 0.5, 1, "Contrast", 0.1, 7),
    _p("Contrast", 0.1, 4, "Solarize", 0.6, 5),
    # exp2_4
    _p("Solarize", 0.2, 3, "ShearX", 0.0, 0), _p("TranslateX", 0.3, 0, "TranslateX", 0.6, 0),
    _p("Equalize", 0.5, 9, "TranslateY", 0.6, 7), _p("ShearX", 0.1, 0, "Sharpness", 0.5, 1),
    _p("Equalize", 0.8, 6, "Invert", 0.3, 6),
    # exp2_5
    _p("AutoContrast", 0.3, 9, "Cutout", 0.5, 3), _p("ShearX", 0.4, 4, "AutoContrast", 0.9, 2),
    _p("ShearX", 0.0, 3, "Posterize", 0.0, 3), _p("Solarize", 0.4, 3, "Color", 0.2, 4),
    _p("Equalize", 0.1, 4, "Equalize", 0.7, 6),
    # exp2_6
    _p("Equalize", 0.3, 8, "AutoContrast", 0.4, 3), _p("Solarize", 0.6, 4, "AutoContrast", 0.7, 6),
    _p("AutoContrast", 0.2, 9, "Brightness", 0.4, 8), _p("Equalize", 0.1, 0, "Equalize", 0.0, 6),
    _p("Equalize", 0.8, 4, "Equalize", 0.0, 4),
    # exp2_7
    _p("Equalize", 0.5, 5, "AutoContrast", 0.1, 2), _p("Solarize", 0.5, 5, "AutoContrast", 0.9, 5),
    _p("AutoContrast", 0.6, 1, "AutoContrast", 0.7, 8), _p("Equalize", 0.2, 0, "AutoContrast", 0.1, 2),
    _p("Equalize", 0.6, 9, "Equalize", 0.4, 4),
)

SVHN_POLICY: tuple[SubPolicy, ...] = (
    _p("ShearX", 0.9, 4, "Invert", 0.2, 3), _p("ShearY", 0.9, 8, "Invert", 0.7, 5),
    _p("Equalize", 0.6, 5, "Solarize", 0.6, 6), _p("Invert", 0.9, 3, "Equalize", 0.6, 3),
    _p("Equalize", 0.6, 1, "Rotate", 0.9, 3), _p("ShearX", 0.9, 4, "AutoContrast", 0.8, 3),
    _p("ShearY", 0.9, 8, "Invert", 0.4, 5), _p("ShearY", 0.9, 5, "Solarize", 0.2, 6),
    _p("Invert", 0.9, 6, "AutoContrast", 0.8, 1), _p("Equalize", 0.6, 3, "Rotate", 0.9, 3),
    _p("ShearX", 0.9, 4, "Solarize", 0.3, 3), _p("ShearY", 0.8, 8, "Invert", 0.7, 4),
    _p("Equalize", 0.9, 5, "TranslateY", 0.6, 6), _p("Invert", 0.9, 4, "Equalize", 0.6, 7),
    _p("Contrast", 0.3, 3, "Rotate", 0.8, 4), _p("Invert", 0.8, 5, "TranslateY", 0.0, 2),
    _p("ShearY", 0.7, 6, "Solarize", 0.4, 8), _p("Invert", 0.6, 4, "Rotate", 0.8, 4),
    _p("ShearY", 0.3, 7, "TranslateX", 0.9, 3), _p("ShearX", 0.1, 6, "Invert", 0.6, 5),
    _p("Solarize", 0.7, 2, "TranslateY", 0.6, 7), _p("ShearY", 0.8, 4, "Invert", 0.8, 8),
    _p("ShearX", 0.7, 9, "TranslateY", 0.8, 3), _p("ShearY", 0.8, 5, "AutoContrast", 0.7, 3),
    _p("ShearX", 0.7, 2, "Invert", 0.1, 5),
)

V0_POLICY: tuple[SubPolicy, ...] = (
    _p("Equalize", 0.8, 1, "ShearY", 0.8, 4), _p("Color", 0.4, 9, "Equalize", 0.6, 3),
    _p("Color", 0.4, 1, "Rotate", 0.6, 8), _p("Solarize", 0.8, 3, "Equalize", 0.4, 7),
    _p("Solarize", 0.4, 2, "Solarize", 0.6, 2), _p("Color", 0.2, 0, "Equalize", 0.8, 8),
    _p("Equalize", 0.4, 8, "SolarizeAdd", 0.8, 3), _p("ShearX", 0.2, 9, "Rotate", 0.6, 8),
    _p("Color", 0.6, 1, "Equalize", 1.0, 2), _p("Invert", 0.4, 9, "Rotate", 0.6, 0),
    _p("Equalize", 1.0, 9, "ShearY", 0.6, 3), _p("Color", 0.4, 7, "Equalize", 0.6, 0),
    _p("Posterize", 0.4, 6, "AutoContrast", 0.4, 7), _p("Solarize", 0.6, 8, "Color", 0.6, 9),
    _p("Solarize", 0.2, 4, "Rotate", 0.8, 9), _p("Rotate", 1.0, 7, "TranslateY", 0.8, 9),
    _p("ShearX", 0.0, 0, "Solarize", 0.8, 4), _p("ShearY", 0.8, 0, "Color", 0.6, 4),
    _p("Color", 1.0, 0, "Rotate", 0.6, 2), _p("Equalize", 0.8, 4, "Equalize", 0.0, 8),
    _p("Equalize", 1.0, 4, "AutoContrast", 0.6, 2), _p("ShearY", 0.4, 7, "SolarizeAdd", 0.6, 7),
    _p("Posterize", 0.8, 2, "Solarize", 0.6, 10), _p("Solarize", 0.6, 8, "Equalize", 0.6, 1),
    _p("Color", 0.8, 6, "Rotate", 0.4, 5),
)

TEST_POLICY: tuple[SubPolicy, ...] = (_p("TranslateX", 1.0, 4, "Equalize", 1.0, 10),)

POLICIES: dict[str, tuple[SubPolicy, ...]] = {
    "imagenet": IMAGENET_POLICY,
    "cifar10": CIFAR10_POLICY,
    "good": CIFAR10_POLICY,
    "svhn": SVHN_POLICY,
    "v0": V0_POLICY,
    "test": TEST_POLICY,
}


def get_policy(name: str) -> tuple[SubPolicy, ...]:
    """The sub-policies registered under ``name`` (e.g. the flag ``--autoaugment_type``)."""
    if name not in POLICIES:
        raise ValueError(f"--autoaugment_type={name!r} is not a known AutoAugment policy; "
                         f"choose one of {', '.join(sorted(POLICIES))}")
    return POLICIES[name]


def _ops_used(policy: tuple[SubPolicy, ...]) -> tuple[str, ...]:
    """The distinct ops of a policy, in registry order (the switch holds only these)."""
    used = {name for sub in policy for name, _, _ in sub}
    return tuple(name for name in magnitudes.OP_NAMES if name in used)


def _policy_tensors(policy: tuple[SubPolicy, ...], op_names: tuple[str, ...]):
    """The table as three [num_sub_policies, 2] tensors: op index, probability, level."""
    for sub in policy:
        for name, _, _ in sub:
            magnitudes.op_index(name)
    indices = [[op_names.index(name) for name, _, _ in sub] for sub in policy]
    probabilities = [[prob for _, prob, _ in sub] for sub in policy]
    levels = [[float(level) for _, _, level in sub] for sub in policy]
    return (tf.constant(indices, tf.int32), tf.constant(probabilities, tf.float32),
            tf.constant(levels, tf.float32))


def apply_policy(image, policy: tuple[SubPolicy, ...], seed=None,
                 hparams: AugmentHParams = AugmentHParams()) -> tf.Tensor:
    """Pick one sub-policy uniformly and apply its two ops with their probabilities."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise TypeError(f"AutoAugment works on uint8 images, got {image.dtype.name}; "
                        "clip to [0, 255] and cast first")
    op_names = _ops_used(policy)
    indices, probabilities, levels = _policy_tensors(policy, op_names)
    seed_pick, *seed_ops = seeds_lib.split_seed(seed, 1 + len(policy[0]))
    choice = seeds_lib.uniform(seed_pick, (), 0, len(policy), tf.int32)
    for slot, seed_op in enumerate(seed_ops):
        image = magnitudes.apply_op_with_probability(
            image, indices[choice, slot], levels[choice, slot], probabilities[choice, slot],
            seed_op, hparams, allowed=op_names)
    return image


def distort_image_with_autoaugment(image, policy_name: str, seed=None,
                                   hparams: AugmentHParams = AugmentHParams()) -> tf.Tensor:
    """Apply the named AutoAugment policy to a uint8 [H, W, 3] image."""
    return apply_policy(image, get_policy(policy_name), seed, hparams)
