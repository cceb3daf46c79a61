"""Latency and size of an LCE flatbuffer against its Keras model, in one process.

Both runtimes classify one image at a time, alternating, after a warm-up, so that load
from other processes hits both alike. Keras runs the inference-ready model that was
converted (``bnno.deploy.inference.inference_model``: float32 arithmetic on ±1 values, without the
flip-ratio metrics, which would slow Keras down) through a ``tf.function``; LCE runs the
flatbuffer with its bit-packed binary kernels. The Keras model is rebuilt from the
flatbuffer's ``bnno`` metadata; its weights are freshly initialized, which does not change
its speed.

Example:
    Time a flatbuffer written by ``bnno export`` on two threads and print the table
    (the same as ``bnno benchmark binarynet.tflite --threads 2``)::

        print(format_table(run("binarynet.tflite", threads=2)))
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bnno.errors import BnnoError


def read_flatbuffer(path: str | Path) -> bytes:
    """The bytes of a TFLite flatbuffer file.

    Raises:
        BnnoError: the file is missing or is not a TFLite flatbuffer.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "model.tflite").write_bytes(bytes(4) + b"TFL3")
        >>> read_flatbuffer(folder / "model.tflite")[4:8]
        b'TFL3'
        >>> _ = (folder / "model.h5").write_bytes(b"HDF5 weights")
        >>> read_flatbuffer(folder / "model.h5")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: ...model.h5 is not a TFLite flatbuffer (unknown format); ...
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise BnnoError(f"{path} does not exist") from None
    except OSError as e:
        raise BnnoError(f"cannot read {path}: {e.strerror}") from None
    # Every TFLite flatbuffer carries the file identifier "TFL3" after the root offset.
    if content[4:8] != b"TFL3":
        raise BnnoError(
            f"{path} is not a TFLite flatbuffer (unknown format); benchmark a .tflite file "
            "written by `bnno export`"
        )
    return content


def measure(flatbuffer: bytes, keras_model=None, threads: int = 2, repeats: int = 50,
            warmup: int = 5) -> dict[str, Any]:
    """Median and p90 latency (ms) of one inference in LCE and, if given, in Keras.

    Example:
        Time an exported flatbuffer in LCE alone (timings vary from run to run)::

            measure(read_flatbuffer("binarynet.tflite"), threads=2)["lce"]["median_ms"]
    """
    from bnno.deploy.lce import lce_module

    lce = lce_module()
    try:
        # The indirect BGEMM kernels are LCE's fast path on x86-64 as well as on Arm.
        interpreter = lce.testing.Interpreter(flatbuffer, num_threads=threads,
                                              use_indirect_bgemm=True)
    except Exception as e:  # the interpreter raises bare RuntimeErrors/ValueErrors
        raise BnnoError(f"LCE's interpreter cannot load the model: {e}") from None
    shape = interpreter.input_shapes[0]
    image = np.random.default_rng(0).uniform(-1, 1, (1, *shape[1:])).astype(np.float32)
    runners = {"lce": lambda: interpreter.predict(image)}
    if keras_model is not None:
        import tensorflow as tf

        call = tf.function(lambda x: keras_model(x, training=False))
        tensor = tf.constant(image)
        runners["keras"] = lambda: call(tensor).numpy()
    for _ in range(warmup):
        for runner in runners.values():
            runner()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90))}
            for name, t in times.items()}


def set_tensorflow_threads(threads: int) -> int:
    """Ask TensorFlow for ``threads`` intra-op threads; returns what it will use (0: all
    cores, when the runtime had already started and the setting cannot change).

    Example:
        Called before TensorFlow runs its first operation, ``set_tensorflow_threads(2)``
        returns 2; called later, it returns the count TensorFlow already uses::

            set_tensorflow_threads(2)
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialized in this process
        pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def run(path: str | Path, threads: int = 2, repeats: int = 50, warmup: int = 5) -> dict[str, Any]:
    """Benchmark a flatbuffer written by ``bnno export`` against its Keras model.

    A flatbuffer without bnno metadata is timed in LCE alone.

    Raises:
        BnnoError: not a TFLite flatbuffer, or one LCE's interpreter cannot load.

    Example:
        The LCE / Keras latency ratio of an exported BinaryNet (below 1: LCE is faster)::

            run("binarynet.tflite", threads=2)["latency_ratio"]
    """
    from bnno.deploy.inference import inference_model
    from bnno.deploy.metadata import read_metadata

    flatbuffer = read_flatbuffer(path)
    try:
        meta = read_metadata(flatbuffer)
    except Exception:  # a damaged flatbuffer; the interpreter below says what is wrong
        meta = None
    result: dict[str, Any] = {
        "file": str(path), "model": meta and meta.get("model"), "threads": threads,
        "tf_threads": set_tensorflow_threads(threads), "runs": repeats, "warmup": warmup,
        "lce_bytes": len(flatbuffer),
    }
    keras_model = None
    if meta:
        from bnno.config import from_json
        from bnno.training.build import build_model

        # Flatbuffers exported before typed configs carry the run's flat hparams.
        config = from_json(meta.get("config", meta))
        trained = build_model(config.model, config.optimizer.name,
                              tuple(meta["input_shape"]), meta["num_classes"])
        result["float32_bytes"] = 4 * trained.count_params()
        keras_model = inference_model(trained)
        result["size_ratio"] = len(flatbuffer) / result["float32_bytes"]
    result.update(measure(flatbuffer, keras_model, threads, repeats, warmup))
    if keras_model is not None:
        result["latency_ratio"] = result["lce"]["median_ms"] / result["keras"]["median_ms"]
    return result


def format_table(result: dict[str, Any]) -> str:
    """The benchmark result as a small text table.

    Example:
        >>> print(format_table({"file": "m.tflite", "model": None, "threads": 1,
        ...     "runs": 3, "warmup": 1, "lce_bytes": 2_000_000,
        ...     "lce": {"median_ms": 1.5, "p90_ms": 2.0}}))  # doctest: +NORMALIZE_WHITESPACE
        m.tflite: 1 image per inference, 1 thread(s), median and p90 of 3 runs after 1 warm-up
        runtime            median ms    p90 ms        size
        LCE                     1.50      2.00     2.00 MB
        (no bnno metadata: no Keras model to compare with)
    """
    lines = [
        f"{result['file']}: 1 image per inference, {result['threads']} thread(s), median and "
        f"p90 of {result['runs']} runs after {result['warmup']} warm-up",
        f"{'runtime':<16}{'median ms':>12}{'p90 ms':>10}{'size':>12}",
        _row("LCE", result["lce"], _size(result["lce_bytes"])),
    ]
    if "keras" not in result:
        lines.append("(no bnno metadata: no Keras model to compare with)")
        return "\n".join(lines)
    lines += [
        _row(f"Keras ({result['model']})", result["keras"], ""),
        f"{'float32 weights':<16}{'':>22}{_size(result['float32_bytes']):>12}",
        f"LCE / Keras latency: {result['latency_ratio']:.2f}x; "
        f"LCE file / float32 weights: {result['size_ratio']:.3f}x",
    ]
    return "\n".join(lines)


def _row(name: str, timing: dict[str, float], size: str) -> str:
    return f"{name:<16}{timing['median_ms']:>12.2f}{timing['p90_ms']:>10.2f}{size:>12}"


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"
