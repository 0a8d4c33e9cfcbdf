"""What Studio shows: input schema and context form with descriptions."""

from __future__ import annotations

from dataclasses import fields

from aurelia.graph.builder import make_graph, make_reasoning_graph
from aurelia.graph.context import Context

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


def test_reasoning_graph_has_no_target_node():
    assert "target" in graph.get_graph().nodes
    assert "target" not in reasoning_graph.get_graph().nodes
