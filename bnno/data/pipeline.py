"""The training and evaluation pipelines every dataset shares, tfds-backed or a folder.

A dataset class gives its examples (``_examples(split)``: ``(image, one-hot label)``
pairs, the image decoded or encoded), its example counts, and the preprocessing function
a name stands for (``preprocess_fn``); ``Pipelines`` turns them into batches whose epoch
order and augmentation are a pure function of (seed, epoch).

Example:
    What a dataset class provides, in the form ``bnno.data.datasets.Dataset`` and
    ``bnno.data.folders.FolderDataset`` do::

        class MyData(Pipelines):
            train_split, test_split, encoded = "train", "test", False
            train_examples, test_examples = 1000, 100

            def _examples(self, split): ...

    The preprocessing functions a dataset can use are those registered for its kind of
    images (``bnno.data.registry``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import bnno.data.registry as registry
from bnno.data.preprocessing import jpeg_first
from bnno.errors import BnnoError, choices

_SHUFFLE_BUFFER = 60_000


class Pipelines:
    """Training and evaluation batches from a dataset's examples (see the module).

    Example:
        Epochs 10 to 99 of a run resumed after its tenth epoch, and the evaluation
        batches, of any dataset ``ds``::

            train = ds.train(batch_size=100, preprocess="resize_and_flip", seed=1,
                             first_epoch=10, epochs=100)
            test = ds.test(batch_size=256, preprocess="default")
    """

    # Given by each dataset class, with ``name``, ``input_shape``, ``encoded``,
    # ``train_examples`` and ``_examples(split)`` (see the module).
    train_split: str
    test_split: str
    # Decode errors are dropped instead of raised (the user chose to skip bad images).
    skip_errors: bool = False
    # How many unreadable images were left out.
    skipped: int = 0

    @property
    def preprocess_fns(self) -> dict[str, Callable]:
        """The preprocessing functions this dataset can use, by name: those registered
        for its kind of images."""
        return registry.functions(self.encoded)

    def preprocess_fn(self, name: str) -> Callable:
        """The preprocessing function ``name`` stands for on this dataset: for encoded
        images, the JPEG function at the dataset's image size, any format accepted.

        Example:
            On a dataset ``ds`` of CIFAR-10's decoded images, the function itself::

                ds.preprocess_fn("resize_and_flip")  # bnno.data.preprocessing's
        """
        fns = self.preprocess_fns
        if name not in fns:
            raise BnnoError(
                f"unknown preprocess fn '{name}' for {self.name}; choose one of: {choices(fns)}"
            )
        return self._adapt(fns[name])

    def _adapt(self, fn: Callable) -> Callable:
        """``fn`` (or a step of it) for what ``_examples`` yields: for encoded images, at
        the dataset's image size, any format accepted."""
        if not self.encoded:
            return fn
        return functools.partial(jpeg_first(fn), size=self.input_shape[0])

    def _training_steps(self, name: str) -> tuple[Callable, Callable | None]:
        """The training preprocessing ``name`` as (per example, per batch or None): a
        function registered with ``stages`` (``bnno.data.registry.TrainingStages``)
        finishes each batch at once."""
        fn = self.preprocess_fn(name)
        stages = registry.get(name, self.encoded).stages
        if stages is None:
            return fn, None
        return self._adapt(stages.per_image), stages.per_batch

    @property
    def shuffle_buffer(self) -> int:
        """How many training examples each epoch's shuffle mixes at a time."""
        return min(self.train_examples or _SHUFFLE_BUFFER, _SHUFFLE_BUFFER)

    @staticmethod
    def _options(ds):
        import tensorflow as tf

        # The per-epoch pipeline hides the files from tf.data's file-based sharding;
        # multi-worker training shards the elements instead (or, with ``shard``, the
        # pipeline shards itself before decoding).
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options)

    def _tolerant(self, ds):
        return ds.ignore_errors() if self.skip_errors else ds

    def train(
        self,
        batch_size: int,
        preprocess: str,
        seed: int,
        first_epoch: int,
        epochs: int,
        steps_per_epoch: int | None = None,
        shard: tuple[int, int] | None = None,
        drop_last: bool = True,
        first_step: int = 0,
    ):
        """Batches for epochs ``first_epoch .. epochs-1``, one epoch after another,
        the first ``first_step`` batches of epoch ``first_epoch`` left out (a run resumed
        inside an epoch): the batches that follow are those an uninterrupted run trains on.

        Each epoch is shuffled and augmented from (seed, epoch) alone and holds
        ``steps_per_epoch`` batches (default: all full batches of the split, and with
        ``drop_last`` false the last partial one too). A preprocessing function
        registered with ``stages`` runs its first step per example and its second per
        batch.
        With ``shard=(n, i)`` this pipeline keeps every n-th example of each shuffled
        epoch from the i-th on, before preprocessing: n workers then decode disjoint
        parts of the same epoch (``batch_size`` and ``steps_per_epoch`` are then this
        pipeline's own).

        Example:
            Epochs 10 to 99 of a run of CIFAR-10 resumed after its tenth epoch::

                load("cifar10").train(batch_size=100, preprocess="resize_and_flip",
                                      seed=1, first_epoch=10, epochs=100)
        """
        import tensorflow as tf

        fn, per_batch = self._training_steps(preprocess)
        examples = self._examples(self.train_split)
        shards, index = shard or (1, 0)
        full, partial = divmod(self.train_examples, batch_size * shards)
        steps = steps_per_epoch or full + (1 if partial and not drop_last else 0)
        buffer = self.shuffle_buffer

        def one_epoch(epoch, skip=0):
            # The order is a function of (seed, epoch) alone. Without this, tf.data mixes
            # the global seed in, and a global seed of 0 makes TF compare the symbolic
            # epoch seed with 0 in Python, which fails (--seed 0). This sets the seed of
            # this traced function's graph only; the global seed is untouched.
            tf.compat.v1.set_random_seed(None)
            ds = examples.shuffle(
                buffer, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
            ).enumerate()
            if shards > 1:
                ds = ds.shard(shards, index)
            # Whole batches are left out before decoding; ``i`` keeps every example's seed.
            ds = ds.skip(skip * batch_size) if skip else ds

            def augment(i, example):
                image, label = example
                element_seed = tf.stack([tf.cast(seed, tf.int64), epoch * 10_000_019 + i])
                return fn(image, True, element_seed), label

            ds = self._tolerant(ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE))
            ds = ds.batch(batch_size, drop_remainder=drop_last).take(steps - skip)
            if per_batch is None:
                return ds
            return ds.map(lambda images, labels: (per_batch(*images), labels),
                          num_parallel_calls=tf.data.AUTOTUNE)

        later = tf.data.Dataset.range(first_epoch + (1 if first_step else 0), epochs)
        batches = later.flat_map(one_epoch)
        if first_step:  # built in a traced function as the other epochs, with its seeds
            first = tf.data.Dataset.from_tensors(tf.constant(first_epoch, tf.int64))
            batches = first.flat_map(lambda epoch: one_epoch(epoch, first_step)).concatenate(
                batches)
        return self._options(batches.prefetch(tf.data.AUTOTUNE))

    def test(self, batch_size: int, preprocess: str, steps: int | None = None,
             drop_remainder: bool = False):
        """Unaugmented evaluation batches; all examples unless ``steps`` limits them.

        ``drop_remainder`` leaves out the last partial batch (multi-worker evaluation
        needs the same number of full batches on every worker).

        Example:
            The first 10 evaluation batches of 256 CIFAR-10 images::

                load("cifar10").test(batch_size=256, preprocess="default", steps=10)
        """
        import tensorflow as tf

        fn = self.preprocess_fn(preprocess)
        ds = self._tolerant(self._examples(self.test_split).map(
            lambda image, label: (fn(image, False, None), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        ))
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if steps:
            ds = ds.take(steps)
        return self._options(ds.prefetch(tf.data.AUTOTUNE))
