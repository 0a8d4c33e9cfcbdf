"""The import structure: no module of ``aurelia`` imports, directly or through others, a module
that imports it back (grimp's graph, lazy imports inside functions included). The layers
themselves are import-linter's contracts (pyproject.toml, ``lint-imports`` in ``make test``)."""

from __future__ import annotations

import grimp


def import_cycles(package: str = "aurelia") -> list[tuple[str, str]]:
    """(a, b) for each direct import a -> b where b also reaches a."""
    graph = grimp.build_graph(package)
    return [
        (a, b)
        for a in sorted(graph.modules)
        for b in sorted(graph.find_modules_directly_imported_by(a))
        if graph.chain_exists(importer=b, imported=a)
    ]


def test_no_import_cycle():
    assert import_cycles() == []


def test_the_check_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyclic import b  # lazy: a cycle all the same\n")
    (pkg / "b.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic") == [("cyclic.a", "cyclic.b"), ("cyclic.b", "cyclic.a")]
