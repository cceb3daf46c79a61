"""Deployment: trained runs as Larq Compute Engine flatbuffers for small devices.

What belongs here: rewriting a trained model for inference (``inference``), importing
LCE (``lce``), conversion and running a flatbuffer (``convert``), what a flatbuffer
carries besides the model (``metadata``), the ``bnno export`` command (``export``) and
latency measurements (``benchmark``).
"""
