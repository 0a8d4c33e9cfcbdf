"""PyAV media layer: probe, keyframes, audio, measured digest, content blocks."""
