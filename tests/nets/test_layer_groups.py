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
