"""Suara: a voice-of-customer pipeline for Indonesian-language feedback.

Data walks one way: source → item (masked, deduplicated) → prediction (with model version) → digest.
"""

__version__ = "0.1.0"
