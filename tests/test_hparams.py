"""Hparam sets: files, sections, extension, overrides, type checks and errors."""

import json

import pytest
from conftest import resolved

from bnno import hparams, models, schedules
from bnno.errors import BnnoError
from bnno.htypes import FLOAT as FLOAT_
from bnno.htypes import INT, SCHEDULE


def resolve(set_name, overrides=None, model="binarynet"):
    return resolved(model, set_name, overrides)


def test_sets_equal_the_papers_code():
    default = resolve("default")
    assert default == {
        "filters": 128, "dense_units": 1024, "kernel_size": 3, "kernel_quantizer": "ste_sign",
        "kernel_constraint": "weight_clip", "activation": "ste_sign", "optimizer": "adam",
        "learning_rate": 5e-3,
        "batch_size": 256, "epochs": 100, "preprocess_fn": "resize_and_flip",
    }
    bop = resolve("bop")
    assert (bop["optimizer"], bop["batch_size"], bop["epochs"]) == ("bop", 100, 100)
    assert (bop["threshold"], bop["gamma"], bop["learning_rate"]) == (1e-6, 1e-3, 0.01)
    assert bop["kernel_quantizer"] is None and bop["kernel_constraint"] is None
    sec52 = resolve("bop_sec52")
    assert (sec52["epochs"], sec52["batch_size"], sec52["threshold"]) == (500, 50, 1e-8)
    assert sec52["gamma"] == {"schedule": "exponential_decay", "initial": 1e-4,
                              "decay_steps": 50_000 // 50 * 100, "decay_rate": 0.1,
                              "staircase": True}
    assert sec52["learning_rate"] == 0.01 and sec52["filters"] == 128  # from "bop"


def test_overrides_are_parsed_by_type():
    hp = resolve("bop", "threshold=1e-6, gamma=0.01,epochs=3,kernel_size=5")
    assert hp["gamma"] == 0.01 and isinstance(hp["gamma"], float)
    assert hp["epochs"] == 3 and isinstance(hp["epochs"], int)
    assert resolve("default", "kernel_constraint=none")["kernel_constraint"] is None


def test_schedule_field_override_and_replacement():
    hp = resolve("bop_sec52", "gamma.decay_rate=0.5,gamma.staircase=false")
    assert hp["gamma"]["decay_rate"] == 0.5 and hp["gamma"]["staircase"] is False
    assert resolve("bop_sec52", "gamma=1e-3")["gamma"] == 1e-3


@pytest.mark.parametrize(
    "set_name, overrides, message",
    [
        ("bop", "foo=1", "unknown hparam 'foo'"),
        ("default", "gama=1e-3", "unknown hparam 'gama'"),
        ("bop", "epochs=1.5", "'epochs' expects a positive integer"),
        ("bop", "epochs=0", "'epochs' expects a positive integer"),
        ("bop", "gamma=fast", "'gamma' expects a number or a schedule"),
        ("bop", "threshold=-1", "'threshold' expects a non-negative number"),
        ("bop", "optimizer=no_such_optimizer", "'optimizer' must be one of: adam, "),
        ("bop", "epochs", "not of the form key=value"),
        ("bop", "gamma.decay_rate=0.5", "not a schedule here"),
        ("bop_sec52", "gamma.rate=0.5", "has no field 'rate'"),
        ("nope", None, "choose one of: adam_sec52, bop, bop2ndOrder, bop2ndOrder_CIFAR, "
                       "bop2ndOrder_testExp, bop2ndOrder_unbiased, "
                       "bop2ndOrder_unbiased_CIFAR, bop2ndOrder_unbiased_testExp, "
                       "bop_sec52, default"),
    ],
)
def test_bad_input_names_the_valid_choices(set_name, overrides, message):
    with pytest.raises(BnnoError, match=message):
        resolve(set_name, overrides)


def test_unknown_model_lists_models():
    with pytest.raises(BnnoError, match="choose one of: .*alexnet, .*binary_alexnet, binarynet"):
        models.get("no_such_model")


SCHEMA = hparams.Schema(model={"filters": INT}, trainer={"epochs": INT, "batch_size": INT},
                        optimizers={"adam": {"learning_rate": SCHEDULE},
                                    "bop": {"learning_rate": SCHEDULE, "gamma": SCHEDULE}})


def test_extends_and_unknown_keys_in_files(tmp_path, monkeypatch):
    (tmp_path / "binarynet.json").write_text(
        '{"a": {"epochs": 2, "batch_size": 3}, "b": {"extends": "a", "epochs": 5},'
        ' "bad": {"extends": "a", "epoch": 5}, "loop": {"extends": "loop"},'
        ' "c": {"extends": "a", "trainer": {"epochs": 7}}}'
    )
    monkeypatch.setattr(hparams, "sets_dir", lambda: tmp_path)
    assert hparams.resolve("binarynet", "b", None, SCHEMA).sections["trainer"] == {
        "epochs": 5, "batch_size": 3}
    # A sectioned set may extend a flat one.
    assert hparams.resolve("binarynet", "c", None, SCHEMA).sections["trainer"] == {
        "epochs": 7, "batch_size": 3}
    with pytest.raises(BnnoError, match="unknown key 'epoch'"):
        hparams.resolve("binarynet", "bad", None, SCHEMA)
    with pytest.raises(BnnoError, match="extends itself"):
        hparams.resolve("binarynet", "loop", None, SCHEMA)


def test_a_set_that_names_another_optimizer_keeps_the_options_both_have(tmp_path, monkeypatch):
    (tmp_path / "m.json").write_text(json.dumps({
        "adam": {"optimizer": {"name": "adam", "learning_rate": 0.1},
                 "trainer": {"epochs": 2, "batch_size": 8}},
        "bop": {"extends": "adam", "optimizer": {"name": "bop", "gamma": 1e-3}}}))
    monkeypatch.setattr(hparams, "sets_dir", lambda: tmp_path)
    recipe = hparams.resolve("m", "bop", None, SCHEMA)
    assert recipe.sections["optimizer"] == {"name": "bop", "learning_rate": 0.1, "gamma": 1e-3}


def test_two_optimizers_may_have_options_of_the_same_name_and_other_types():
    from bnno.htypes import BOOL, FLOAT

    schema = hparams.Schema(optimizers={"a": {"momentum": FLOAT}, "b": {"momentum": BOOL}})
    recipe = hparams.Recipe.empty()
    recipe.sections["optimizer"].update(name="a", momentum=0.9)
    assert hparams.apply(recipe, {"momentum": "0.5"}, schema).sections["optimizer"] == {
        "name": "a", "momentum": 0.5}
    switched = hparams.apply(recipe, {"optimizer": "b", "momentum": "true"}, schema)
    assert switched.sections["optimizer"] == {"name": "b", "momentum": True}
    assert switched.dropped == {}  # b has a momentum too, but of another type: it is given


def test_a_flat_key_of_two_sections_is_refused_and_a_dotted_one_names_it():
    schema = hparams.Schema(model={"momentum": FLOAT_}, optimizers={"a": {"momentum": FLOAT_}})
    recipe = hparams.Recipe.empty()
    recipe.sections["optimizer"]["name"] = "a"
    with pytest.raises(BnnoError, match="name one: model.momentum or optimizer.momentum"):
        hparams.apply(recipe, {"momentum": "0.9"}, schema)
    out = hparams.apply(recipe, {"model.momentum": "0.99", "optimizer.momentum": "0.9"},
                        schema)
    assert out.sections["model"] == {"momentum": 0.99}
    assert out.sections["optimizer"] == {"name": "a", "momentum": 0.9}
    with pytest.raises(BnnoError, match="valid keys of trainer: none"):
        hparams.apply(recipe, {"trainer.momentum": "1"}, schema)


def test_sets_of_one_model_may_come_from_added_folders(tmp_path):
    (tmp_path / "binarynet.json").write_text(json.dumps({"plugin_set": {
        "extends": "bop", "optimizer": {"gamma": 1e-4}}}))
    hparams.add_folder(tmp_path)
    try:
        assert "plugin_set" in hparams.set_names("binarynet")
        assert resolve("plugin_set")["gamma"] == 1e-4
        (tmp_path / "binarynet.json").write_text(json.dumps({"bop": {}}))
        with pytest.raises(BnnoError, match="'bop' of 'binarynet' is defined in"):
            hparams.set_names("binarynet")
    finally:
        hparams.remove_folder(tmp_path)
    assert "plugin_set" not in hparams.set_names("binarynet")


def test_sets_are_installed_as_package_data():
    assert (hparams.sets_dir() / "binarynet.json").is_file()


@pytest.mark.parametrize(
    "value, message",
    [
        ({"schedule": "linear"}, "unknown schedule"),
        ({"schedule": "exponential_decay", "initial": 1e-3, "decay_rate": 0.1}, "exactly one"),
        ({"schedule": "exponential_decay", "decay_steps": 5, "decay_rate": 0.1}, "'initial'"),
        ({"schedule": "polynomial_decay", "initial": 1, "end": 0, "decay_steps": 1,
          "x": 1}, "unknown field"),
        ({"schedule": "piecewise_constant", "boundaries": [1, 2], "values": [1.0]}, "one more"),
    ],
)
def test_bad_schedules(value, message):
    with pytest.raises(BnnoError, match=message):
        schedules.validate("gamma", value)


@pytest.mark.parametrize("overrides, expected", [
    ("activation.rho=0.2", {"name": "sibnn", "rho": 0.2}),
    ("rho=0.2", {"name": "sibnn", "rho": 0.2}),  # the key's old name
    ("activation=ste_sign,activation.clip_value=1.2", {"name": "ste_sign", "clip_value": 1.2}),
    ("activation=bnext_sign", "bnext_sign"),
    ("activation=none", None),
])
def test_quantizer_specs_and_their_options_are_overridden(overrides, expected):
    assert resolve("sibnn", overrides, model="sibnn_mlp")["activation"] == expected


@pytest.mark.parametrize("overrides, message", [
    ("activation=none,activation.rho=0.2", "hparam 'activation' is none here"),
    ("activation.metrics=flip_ratio", "cannot set metrics: the trainer attaches them"),
    ("epochs.rho=2", "hparam 'epochs' has no fields"),
])
def test_bad_quantizer_overrides(overrides, message):
    with pytest.raises(BnnoError, match=message):
        resolve("sibnn", overrides, model="sibnn_mlp")
