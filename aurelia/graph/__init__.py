"""The Aurelia graph: state, run-time context and wiring."""
