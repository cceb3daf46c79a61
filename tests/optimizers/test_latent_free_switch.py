"""`--hparams optimizer=bop` on a latent-weight set, from the command line: the set's
latent kernel settings give way (logged), Si-BNN keeps its per-channel scale as a
variable that resumes exactly, and latent settings the user names are refused."""

import h5py
import numpy as np
import pytest

from bnno import runs

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1"]
TINY_MLP = "units=16,hidden_layers=3,batch_size=4"


def scales(run_dir) -> list[np.ndarray]:
    """The channel scales saved with a run's final weights, in layer order (layer names
    differ between runs of one process)."""
    found = []
    with h5py.File(runs.weights_file(run_dir, "sibnn_mlp"), "r") as f:
        f.visititems(lambda name, item: found.append(item[()])
                     if name.endswith("scale:0") and "channel_scale" in name else None)
    return found


@pytest.mark.slow
def test_sibnn_trains_latent_free_and_its_scales_resume_exactly(mock_tfds, cli, tmp_path):
    def run(out, epochs):
        code, stdout, err = cli("train", "sibnn_mlp", "--dataset", "mnist", "--hparams-set",
                                "sibnn", "--hparams", f"{TINY_MLP},epochs={epochs},"
                                "optimizer=bop,threshold=1e-6,gamma=1e-3",
                                "--output-dir", str(out), *SHORT)
        assert code == 0, err
        return stdout

    stdout = run(tmp_path / "a", 1)
    notes = [line for line in stdout.splitlines() if "replaced in set" in line]
    assert notes == ["optimizer=bop trains ±1 kernels, no latent weights; replaced in set "
                     "'sibnn': kernel_quantizer sibnn_weight -> channel_scale, "
                     "kernel_constraint weight_clip -> none"]
    assert runs.read(tmp_path / "a")["model"]["hparams"]["kernel_quantizer"] == "channel_scale"
    run(tmp_path / "a", 2)  # resumed for one more epoch
    run(tmp_path / "b", 2)
    resumed, straight = scales(tmp_path / "a"), scales(tmp_path / "b")
    assert len(resumed) == 2  # one per binary layer
    for resumed_scale, value in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(resumed_scale, value)
        assert not np.allclose(value, 1.0)  # started at mean |w| and trained since


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", [
    ("optimizer=bop,threshold=1e-6,gamma=1e-3,kernel_quantizer=ste_sign",
     "kernel_quantizer must be none or channel_scale (got ste_sign)"),
    ("optimizer=bop2ndorder,threshold=1e-6,gamma=1e-3,kernel_constraint=weight_clip",
     "kernel_constraint none (got weight_clip)"),
    ("kernel_quantizer=channel_scale", "only a latent-free optimizer trains"),
])
def test_latent_settings_the_user_names_are_refused(mock_tfds, cli, tmp_path,
                                                    overrides, message):
    out = tmp_path / "run"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set",
                       "default", "--hparams", f"filters=4,dense_units=8,{overrides}",
                       "--output-dir", str(out), *SHORT)
    assert code == 2 and message in err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()  # refused before anything was written


@pytest.mark.slow
def test_hparams_show_names_what_gave_way_on_stderr(cli):
    code, stdout, err = cli("hparams", "show", "bnext_t", "cifar", "--hparams",
                            "optimizer=bop2ndorder,threshold=1e-6,gamma=1e-3")
    assert code == 0
    assert "kernel_quantizer bnext_weight -> none" in err
    assert "weight_decay 0.001 -> (dropped)" in err  # an option bop2ndorder does not have
    assert '"kernel_quantizer": null' in stdout and '"weight_decay"' not in stdout
