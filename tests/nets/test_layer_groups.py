"""Layer groups and DropBlock layers are the network's own metadata, set when it is built."""

import keras
import pytest

from assembled_cnn.nets import build_model, model_info
from assembled_cnn.nets.layer_groups import GROUP_ORDER, assign_layer_groups
from assembled_cnn.nets.layers import DropBlock
from assembled_cnn.train.layer_groups import variable_groups


@pytest.mark.parametrize("name,hparams", [
    ("resnet18", {"num_filters": 8}),
    ("assemble_resnet50", {"num_filters": 8}),
    ("mobilenet_v1", {"width_multiplier": 0.25}),
    ("efficientnet_lite0", {}),
])
def test_every_weighted_layer_has_a_group_and_each_group_its_own_layers(name, hparams):
    model = build_model(name, num_classes=5, **hparams)
    info = model_info(model)
    weighted = {layer.name for layer in model.layers if layer.weights}
    assert set(info.layer_groups) == weighted and set(info.layer_groups.values()) == set(GROUP_ORDER)
    assert all(n.startswith("stem") for n, g in info.layer_groups.items() if g == "stem")
    assert info.layer_groups["logits"] == "head"
    groups = variable_groups(model)
    assert sum(len(v) for v in groups.values()) == len(model.weights)  # every weight in exactly one group
    dropblocks = [layer for layer in model.layers if isinstance(layer, DropBlock)]
    assert list(info.dropblock_layers) == dropblocks
    assert bool(dropblocks) == (name == "assemble_resnet50")


def test_a_layer_the_builder_did_not_name_is_an_error_at_build_time():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="stem_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, name="mystery")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(x)))
    with pytest.raises(ValueError, match=r"\['mystery'\].*belong to no layer group"):
        assign_layer_groups(model)


def test_se_mobilenet_v1_of_m8_has_se_r2_and_dropblock_in_the_14_and_7_px_blocks():
    model = build_model("mobilenet_v1", num_classes=5, width_multiplier=0.25, use_se_block=True, se_ratio=2,
                        use_dropblock=True, input_size=224)
    reduce = model.get_layer("b12_se_reduce")  # 1024 * 0.25 = 256 channels -> 128 with r = 2
    assert reduce.kernel.shape[-1] == model.get_layer("b12_pw").kernel.shape[-1] // 2
    dropblocks = {layer.name: layer for layer in model_info(model).dropblock_layers}
    assert sorted(dropblocks) == sorted(f"b{i}_pw_dropblock" for i in range(5, 13))  # 14x14: 5-10, 7x7: 11-12
    assert {dropblocks["b5_pw_dropblock"].gamma_scale, dropblocks["b12_pw_dropblock"].gamma_scale} == {0.25, 1.0}
    assert model.get_layer("b5_pw_dropblock").output.shape[1] == 14 and model.get_layer("b12_pw").output.shape[1] == 7
