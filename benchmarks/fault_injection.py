"""Fault injection: kill a small seeded run at random moments, resume it, and check that
no run directory is left corrupted and that every resumed run ends with the weights of an
uninterrupted one.

Each trial starts ``bnno train`` (a tiny binarynet on CIFAR-10, a few epochs of a few
steps, a checkpoint every few steps), kills it with SIGKILL or SIGTERM at a random
moment (or the moment a checkpoint is being written), checks what the kill left,
and runs the same command again until it finishes. A run directory counts as corrupted
when a file in it cannot be read (run.json, metrics.jsonl, the checkpoint, the weights),
when metrics.jsonl holds an epoch twice, or when the resume fails. Then it prints::

    trials  SIGKILL  SIGTERM  during a save  exit 75  corrupted  weight mismatches
    50      25       25       17             21       0          0

    python benchmarks/fault_injection.py --data-dir DIR [--trials 50] [--seed 0]

Without a data dir ($BNNO_DATA_DIR, then $TFDS_DATA_DIR) the run needs another command
prefix (``--command``, e.g. a wrapper that trains on mock data). With ``--cost`` it
measures instead what ``--checkpoint-every`` costs: the seconds of one checkpoint save
as a multiple of one training step, for the same tiny run and for the full binarynet.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bnno import runs

HPARAMS = "filters=4,dense_units=8,batch_size=4,epochs=3,gamma.decay_steps=5"
STEPS, EPOCHS = 8, 3


def train_args(out: Path, data_dir: str | None, checkpoint_every: int = 3) -> list[str]:
    """The arguments of the trial's ``bnno train`` (after the command prefix)."""
    args = ["train", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop_sec52",
            "--preprocess-fn", "resize_and_flip", "--hparams", HPARAMS,
            "--steps-per-epoch", str(STEPS), "--validation-steps", "1", "--seed", "7",
            "--checkpoint-every", str(checkpoint_every), "--no-tensorboard", "--verbose", "0",
            "--output-dir", str(out)]
    return args + (["--data-dir", data_dir] if data_dir else [])


def weights(path: Path) -> dict[str, np.ndarray]:
    import h5py

    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def damage(out: Path) -> str | None:
    """What cannot be read in the run directory ``out`` after a kill (None: nothing)."""
    if not out.exists() or not (out / runs.RUN_FILE).exists():
        return None if not out.exists() or not runs.has_checkpoint(out) else "no run.json"
    try:
        runs.read(out)
    except Exception as e:  # noqa: BLE001  (any failure is damage)
        return f"run.json: {e}"
    try:
        epochs = [row["epoch"] for row in runs.read_metrics(out)]
    except ValueError as e:
        return f"metrics.jsonl: {e}"
    if epochs != list(range(1, len(epochs) + 1)):
        return f"metrics.jsonl epochs {epochs}"
    if runs.has_checkpoint(out) and runs.checkpointed_epochs(out) is None:
        return "checkpoint record"
    if runs.has_checkpoint(out):
        try:
            runs.checkpoint_position(out)
        except Exception as e:  # noqa: BLE001
            return f"checkpoint: {e}"
    for file in (runs.weights_file(out, "binarynet"), runs.best_weights_file(out, "binarynet")):
        if file.exists():
            try:
                weights(file)
            except Exception as e:  # noqa: BLE001
                return f"{file.name}: {e}"
    return None


def names(out: Path) -> frozenset[str]:
    """The files of the run's checkpoint folder now. A save creates a temporary file,
    then the new checkpoint's files, then rewrites the index and removes the old files:
    while it runs, the names change from one look to the next."""
    try:
        return frozenset(p.name for p in (out / runs.BACKUP_DIR / "chief").iterdir())
    except OSError:
        return frozenset()


def kill_once(command: list[str], out: Path, env: dict, rng: random.Random,
              whole_seconds: float, during_save: bool, sig: int) -> tuple[int, bool]:
    """Start ``command``, kill it with ``sig`` (at a random moment, or while it saves a
    checkpoint in the run directory ``out``), and return its exit status and whether a
    save was under way."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + (whole_seconds * 3 if during_save
                                   else rng.uniform(0.2, 0.9) * whole_seconds)
    hit, seen = False, frozenset()
    while time.monotonic() < deadline and proc.poll() is None:
        now = names(out) if during_save else seen
        if seen and now != seen:  # a save is under way (its first file appeared)
            hit = True
            break
        seen = now
        time.sleep(0.0005 if during_save else 0.01)
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(), hit


def trial(i: int, prefix: list[str], data_dir: str | None, root: Path, reference: dict,
          whole_seconds: float, rng: random.Random, env: dict) -> dict:
    out = root / f"trial-{i}"
    command = prefix + train_args(out, data_dir)
    sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
    status, during_save = kill_once(command, out, env, rng, whole_seconds, rng.random() < 0.4, sig)
    row = {"signal": sig.name, "during_save": during_save, "status": status,
           "damage": damage(out), "mismatch": False}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        row["damage"] = row["damage"] or f"resume failed: {done.stderr.strip()[-300:]}"
        return row
    row["damage"] = row["damage"] or damage(out)
    got = weights(runs.weights_file(out, "binarynet"))
    row["mismatch"] = got.keys() != reference.keys() or any(
        not np.array_equal(got[k], reference[k]) for k in reference)
    return row


def table(rows: list[dict]) -> str:
    cells = [("trials", "SIGKILL", "SIGTERM", "during a save", "exit 75", "corrupted",
              "weight mismatches"),
             (len(rows), sum(r["signal"] == "SIGKILL" for r in rows),
              sum(r["signal"] == "SIGTERM" for r in rows),
              sum(r["during_save"] for r in rows), sum(r["status"] == 75 for r in rows),
              sum(r["damage"] is not None for r in rows), sum(r["mismatch"] for r in rows))]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
                     .rstrip() for line in cells)


def run_trials(prefix: list[str], data_dir: str | None, trials: int, seed: int,
               root: Path, env: dict | None = None) -> list[dict]:
    """Train the reference run, then ``trials`` killed-and-resumed runs under ``root``;
    one row per trial (``signal``, ``during_save``, ``status``, ``damage``, ``mismatch``)."""
    env = dict(env or os.environ)
    rng = random.Random(seed)
    whole = root / "whole"
    start = time.monotonic()
    subprocess.run(prefix + train_args(whole, data_dir), env=env, check=True,
                   capture_output=True)
    whole_seconds = time.monotonic() - start
    reference = weights(runs.weights_file(whole, "binarynet"))
    rows = []
    for i in range(trials):
        rows.append(trial(i, prefix, data_dir, root, reference, whole_seconds, rng, env))
        problem = rows[-1]["damage"] or ("weights differ" if rows[-1]["mismatch"] else "")
        print(f"trial {i + 1}/{trials}: {rows[-1]['signal']}"
              f"{' during a save' if rows[-1]['during_save'] else ''}, exit "
              f"{rows[-1]['status']} {problem}", flush=True)
    return rows


def measure_cost(data_dir: str, hparams: str, steps: int, every: int) -> dict:
    """What ``--checkpoint-every`` costs, in one process with warm data: the seconds of a
    training step (the second epoch of a run without saves inside epochs), the median
    seconds of one save inside an epoch (timed around the save itself), that save as a
    multiple of a step, and the share it adds at ``every`` steps; also the second epoch's
    seconds with saves over those without (which includes the machine's noise)."""
    import statistics

    import tensorflow as tf

    from bnno.config import plan
    from bnno.data import Source
    from bnno.hparams import parse_overrides
    from bnno.training.callbacks import GoodStateBackup
    from bnno.training.train import TrainOptions, train

    timed: list[float] = []
    save = GoodStateBackup._save

    def timed_save(self, epoch, batch):
        start = time.perf_counter()
        save(self, epoch, batch)
        if batch >= 0:
            timed.append(time.perf_counter() - start)

    GoodStateBackup._save = timed_save
    epoch_seconds = {}
    try:
        for checkpoint_every in (0, every):
            tf.keras.backend.clear_session()
            config = plan("binarynet", "cifar10", "bop",
                          {**parse_overrides(hparams), "steps_per_epoch": steps,
                           "validation_steps": 1, "epochs": 2}, seed=1)
            with tempfile.TemporaryDirectory() as out:
                train(config, out, Source(data_dir),
                      TrainOptions(tensorboard=False, verbose=0, flip_log=False,
                                   checkpoint_every=checkpoint_every))
                epoch_seconds[checkpoint_every] = runs.read_metrics(Path(out))[-1]["seconds"]
    finally:
        GoodStateBackup._save = save
    step = epoch_seconds[0] / steps
    per_save = statistics.median(timed)
    return {"hparams": hparams, "steps": steps, "every": every,
            "step_seconds": round(step, 4), "save_seconds": round(per_save, 4),
            "save_in_steps": round(per_save / step, 2),
            "overhead_at_every": round(per_save / (every * step), 4),
            "epoch_seconds_ratio": round(epoch_seconds[every] / epoch_seconds[0], 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--command", help="command prefix instead of `python -m bnno.cli`")
    p.add_argument("--output-dir", help="where the trials' runs go (default: temporary)")
    p.add_argument("--cost", action="store_true",
                   help="measure what --checkpoint-every costs instead")
    args = p.parse_args()
    if args.cost:
        for hp, steps, every in (("filters=4,dense_units=8,batch_size=4", 200, 20),
                                 ("batch_size=50", 40, 10)):
            print(json.dumps(measure_cost(args.data_dir, hp, steps, every)), flush=True)
        return
    prefix = args.command.split() if args.command else [sys.executable, "-m", "bnno.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.output_dir or tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = run_trials(prefix, args.data_dir, args.trials, args.seed, root)
    print(table(rows))


if __name__ == "__main__":
    main()
