"""Every ``bnno train`` command of the Bop2ndOrder README (CuauSuarez/Bop2ndOrder
README.md) runs in bnno as written: on mock data (``mock_tfds``), with only a budget
added (one epoch of two steps, a tiny width, a small batch; ImageNet at 32×32)."""

import json
import shlex

import pytest

# The README's command lines, verbatim (continuation lines joined).
README_LINES = [
    "bnno train binarynet --dataset cifar10",
    # §5.1.1: batch or layer normalization, biased or unbiased
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder --hparams threshold=1e-6,gamma=1e-7,sigma=1e-3,epochs=150 "
    "--tensorboard=True",
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_unbiased --hparams threshold=1e-6,gamma=1e-7,sigma=1e-3,"
    "epochs=150 --tensorboard=True",
    "bnno train binarynet --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder --hparams threshold=1e-6,gamma=1e-7,sigma=1e-3,epochs=150 "
    "--tensorboard=True",
    "bnno train binarynet --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_unbiased --hparams threshold=1e-6,gamma=1e-7,sigma=1e-3,"
    "epochs=150 --tensorboard=True",
    # §5.1.3: ablation
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_unbiased --hparams threshold=1e-6,gamma=1e-7,sigma=1e-3,"
    "epochs=100 --tensorboard=True",
    # §5.1.4: schedulers
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_unbiased_testExp --hparams epochs_decay=100,threshold=1e-6,"
    "threshold_decay=0.1,gamma=1e-7,gamma_decay=0.1,sigma=1e-3,sigma_decay=0.1 "
    "--tensorboard=True",
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_testExp --hparams epochs_decay=100,threshold=1e-6,"
    "threshold_decay=0.1,gamma=1e-7,gamma_decay=0.1,sigma=1e-3,sigma_decay=0.1 "
    "--tensorboard=True",
    # §5.2: CIFAR-10
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_unbiased_CIFAR --tensorboard=True",
    "bnno train binarynet_batch --dataset cifar10 --preprocess-fn resize_and_flip "
    "--hparams-set bop2ndOrder_CIFAR --tensorboard=True",
    # §5.3: ImageNet
    "bnno train xnornet_batch --dataset imagenet2012 --hparams-set bop2ndOrder_ImageNet",
    "bnno train birealnet_batch --dataset imagenet2012 --hparams-set bop2ndOrder_ImageNet",
]

# The budget: hparams appended to the line's own (a later key wins), and flags. ImageNet's
# mock images are JPEGs to decode: two per batch.
TINY = {"binarynet": "filters=4,dense_units=8,batch_size=8",
        "birealnet": "filters=4,image_size=32,batch_size=2",
        "xnornet": "image_size=32,batch_size=2"}
FLAGS = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1"]


def with_budget(line: str, out) -> list[str]:
    """The line's arguments after ``bnno``, with the budget added."""
    args = shlex.split(line)[1:]
    base = args[1].removesuffix("_batch")
    budget = f"epochs=1,{TINY[base]}"
    if "--hparams" in args:
        i = args.index("--hparams") + 1
        args[i] = f"{args[i]},{budget}"
    else:
        args += ["--hparams", budget]
    return [*args, *FLAGS, "--output-dir", str(out)]


def given(line: str) -> dict[str, float]:
    """The hparams the line sets itself."""
    args = shlex.split(line)
    if "--hparams" not in args:
        return {}
    pairs = args[args.index("--hparams") + 1].split(",")
    return {k: float(v) for k, v in (p.split("=") for p in pairs)}


@pytest.mark.slow
@pytest.mark.parametrize("line", README_LINES, ids=lambda line: " ".join(
    a for a in shlex.split(line)[2:] if not a.startswith("-") and "=" not in a
    and a not in ("cifar10", "imagenet2012", "resize_and_flip")))
def test_readme_line_trains(mock_tfds, cli, tmp_path, line):
    out = tmp_path / "run"
    code, _, err = cli(*with_budget(line, out))
    assert code == 0, err
    spec = json.loads((out / "run.json").read_text())
    alias = shlex.split(line)[2]
    hp = {**spec["model"]["hparams"], "optimizer": spec["optimizer"]["name"],
          **spec["optimizer"]["options"], **spec["trainer"]}
    assert spec["model"]["name"] == alias.removesuffix("_batch")
    if spec["model"]["name"] in ("binarynet", "xnornet", "birealnet") \
            and "--hparams-set" in line:
        # The _batch names are the batch-norm networks; the Bop2ndOrder code's own
        # binarynet is the layer-norm one.
        assert hp["normalization"] == ("batch" if alias.endswith("_batch") else "layer")
        assert hp["optimizer"] == "bop2ndorder"
        assert hp["bias_correction"] == ("unbiased" in line)
    for key, value in given(line).items():
        if key != "epochs":  # the budget's one epoch replaces the line's
            assert hp[key] == pytest.approx(value)
    (row,) = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    for key in ("threshold", "gamma", "sigma"):
        if key in given(line):  # the README's values reach the optimizer (no decay yet)
            assert row[key] == pytest.approx(given(line)[key], rel=1e-5)
    assert (out / "logs").is_dir() == ("--tensorboard=True" in line or "--tensorboard" not in line)
