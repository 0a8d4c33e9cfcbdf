"""What Studio shows: input schema and context form with descriptions."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from aurelia.graph.builder import make_graph, make_reasoning_graph
from aurelia.graph.context import Context

ROOT = Path(__file__).resolve().parents[1]
graph = make_graph()
reasoning_graph = make_reasoning_graph()


def test_input_schema_requires_video_and_question_only():
    schema = graph.get_input_jsonschema()
    assert set(schema["required"]) == {"video", "question"}
    assert {"video", "question", "audio", "choices", "sample_id"} <= set(schema["properties"])
    assert all(p.get("description") for p in schema["properties"].values())


def test_context_schema_describes_every_setting():
    props = graph.get_context_jsonschema()["properties"]
    assert set(props) == {f.name for f in fields(Context)}
    assert all(p.get("description") for p in props.values())
    assert props["threshold"]["default"] == 6 and props["max_iterations"]["default"] == 5
    assert set(props["inject"]["enum"]) == {"steps", "steps_answers", "full", "none"}
    assert (props["threshold"]["minimum"], props["threshold"]["maximum"]) == (1, 10)
    assert props["max_iterations"]["minimum"] == 1 and props["num_frames"]["minimum"] == 1


def test_importing_aurelia_compiles_no_graph_and_leaves_langsmith_alone():
    code = (
        "import langgraph.graph.state as s; compiled = []; orig = s.StateGraph.compile;"
        "s.StateGraph.compile = lambda self, *a, **k: compiled.append(1) or orig(self, *a, **k);"
        "import langsmith.run_trees as rt; before = rt._CLIENT if hasattr(rt, '_CLIENT') else None;"
        "import aurelia, aurelia.cli, aurelia.graph.builder, aurelia.embed, aurelia.durable;"
        "print(len(compiled), (rt._CLIENT if hasattr(rt, '_CLIENT') else None) is before)"
    )
    env = {**os.environ, "LANGSMITH_TRACING": "true", "LANGSMITH_API_KEY": "lsv2_test_not_a_key", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["0", "True"], out.stderr


def test_reasoning_graph_has_no_target_node():
    assert "target" in graph.get_graph().nodes
    assert "target" not in reasoning_graph.get_graph().nodes
