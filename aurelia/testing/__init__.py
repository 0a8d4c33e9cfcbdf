"""Fixtures for tests and benchmarks: synthetic clips made with PyAV (``clips``), tiny
random-weight Hugging Face checkpoints (``tiny``), and crash drills with scripted agents
(``crash``). Not used on any runtime path."""
