"""Fixtures for tests and benchmarks: synthetic clips made with PyAV (``clips``) and tiny
random-weight Hugging Face checkpoints (``tiny``). Not used on any runtime path."""
