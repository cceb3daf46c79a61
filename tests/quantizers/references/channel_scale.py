"""bnno's channel_scale at its start (α = 1 per channel): α·w, gradient α·g."""


def forward(w, quantizer):
    return w


def gradient(w, g, quantizer):
    return g
