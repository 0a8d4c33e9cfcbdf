"""The ``aurelia`` command line: ``run``, ``demo``, ``resume``, ``answer``, ``media``. Every
command reports bad input through one error path (``aurelia.cli.errors``)."""

from aurelia.cli.app import app, main

__all__ = ["app", "main"]
