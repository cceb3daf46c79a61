"""NumPy transcriptions of every registered quantizer, one module per quantizer name.

Each module defines ``forward(x, quantizer)`` and ``gradient(x, g, quantizer)``: the
quantizer's values for ``x`` and the gradient of ``sum(y * g)`` with respect to ``x``,
written from the rule's official code (or larq's documentation for larq's own). The
built ``quantizer`` is given for rules that read its variables at their start.
``test_quantizer_registry`` fails for a registered quantizer without a module here.
"""
