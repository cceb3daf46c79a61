"""What a bnno flatbuffer carries besides the model: its run's description, its op counts.

The flatbuffer carries the run's description (model, hparams, input shape) as metadata
named ``bnno``, so ``bnno benchmark`` can rebuild the Keras model for comparison.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from bnno.deploy.lce import lce_module

METADATA_NAME = "bnno"


def _schema():
    # TFLite's flatbuffer schema, as generated Python classes, ships with LCE.
    lce_module()
    from larq_compute_engine.mlir.python import tflite_schema

    return tflite_schema


def add_metadata(flatbuffer: bytes, metadata: dict[str, Any]) -> bytes:
    """``flatbuffer`` with ``metadata`` stored as JSON under the name ``bnno``.

    Example:
        Store, then read back, the metadata of a flatbuffer ``flatbuffer`` (LCE's schema
        is needed for both); the second line gives ``{'model': 'binarynet'}``::

            tagged = add_metadata(flatbuffer, {"model": "binarynet"})
            read_metadata(tagged)
    """
    import flatbuffers
    schema = _schema()

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_metadata(flatbuffer: bytes) -> dict[str, Any] | None:
    """The ``bnno`` metadata of a flatbuffer, or None if it has none.

    Example:
        The model name of an exported file (``'binarynet'`` for a BinaryNet run)::

            read_metadata(Path("model.tflite").read_bytes())["model"]
    """
    schema = _schema()

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == METADATA_NAME.encode():
            raw = model.Buffers(entry.Buffer()).DataAsNumpy()
            return json.loads(bytes(raw).decode())
    return None


def count_binary_ops(flatbuffer: bytes) -> int:
    """How many binary convolutions (``LceBconv2d``) the flatbuffer runs.

    Example:
        An exported BinaryNet gives 8: its 5 convolutions and 3 dense layers (run as 1×1
        convolutions) on binary inputs; the first convolution sees the real image::

            count_binary_ops(Path("model.tflite").read_bytes())
    """
    schema = _schema()

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    codes = [model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    return sum(codes[graph.Operators(i).OpcodeIndex()] == b"LceBconv2d"
               for i in range(graph.OperatorsLength()))
