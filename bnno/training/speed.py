"""Which limits a run, its input pipeline or its training step? Both timed apart for a
planned run (``bnno throughput``).

The pipeline is the run's own (its dataset, preprocessing and batch size, at the
parallelism training uses); the step is the run's compiled model (with its teachers, when
it distils) trained on one synthetic batch held in memory (``bnno.data.throughput``).
Both run on this machine with TensorFlow's default strategy.

Example:
    BNext-T's ImageNet recipe on an ImageNet prepared in ``~/tensorflow_datasets``; the
    result prints as one line, e.g. ``input pipeline 812 images/s, training step 2290
    images/s: input-bound (...)``::

        print(measure(plan("bnext_t", "imagenet2012", "imagenet")))
"""

from __future__ import annotations

from bnno import data
from bnno.config import RunConfig
from bnno.data.throughput import Throughput, pipeline_rate, step_rate
from bnno.errors import BnnoError


def measure(config: RunConfig, source: data.Source | None = None, batches: int = 20,
            steps: int = 10, say=print) -> Throughput:
    """Images/s of ``config``'s input pipeline (``batches`` timed batches) and of its
    training step (``steps`` timed steps), each alone; ``say`` gets a line before each
    timing.

    Raises:
        BnnoError: missing data, or fewer than one batch or step to time.
    """
    from bnno.training.train import model

    if batches < 1 or steps < 1:
        raise BnnoError("--batches and --steps must be positive")
    source = source or data.Source()
    ds = data.load(config.data.dataset, source.data_dir, source.manual_dir,
                   config.data.image_size, config.data.classes, source.skip_bad_images)
    batch = config.trainer.batch_size
    say(f"Timing the input pipeline: {batches} batches of {batch} "
        f"({config.data.preprocess_fn} on {ds.name})...")
    pipeline = pipeline_rate(ds, config.data.preprocess_fn, batch, batches, seed=config.seed)
    say(f"Timing the training step: {steps} steps of {batch} ({config.model.name}, "
        f"{config.optimizer.name})...")
    net, _ = model(config, ds, steps_per_epoch=max(ds.train_examples // batch, 1),
                   flip_log=True)
    return Throughput(pipeline, step_rate(net, ds.input_shape, ds.num_classes, batch, steps))
