"""Embedding: the reasoning loop as a node of a parent graph with its own state (checkpointed in
the parent's thread), and the pipeline as a LangChain tool called by a real LangChain agent."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from fakes import REASONING_JSON, fake
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from aurelia.embed import aurelia_tool, reasoning_node


def _models() -> dict[str, Any]:
    return {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Red with a tone, then blue with beeps, then green and silent."),
        "evaluator": fake('{"score": 5, "rationale": "misses the beeps"}', '{"score": 8, "rationale": "matches"}'),
        "target": fake("C"),
    }


class Incident(TypedDict, total=False):
    """A parent app's own state: nothing is named like Aurelia's."""

    clip: str
    query: str
    reasoning: dict
    report: str


def write_report(state: Incident) -> dict:
    r = state["reasoning"]
    return {"report": f"best of {len(r['iterations'])} (score {r['best_score']}):\n{r['steps_text']}"}


def test_reasoning_graph_as_a_parent_node(clip):
    builder = StateGraph(Incident)
    builder.add_node("watch", reasoning_node(models=_models(), context={"max_iterations": 3}, video_key="clip", question_key="query"))
    builder.add_node("write_report", write_report)
    builder.add_edge(START, "watch")
    builder.add_edge("watch", "write_report")
    builder.add_edge("write_report", END)
    saver = InMemorySaver()
    parent = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "incident-7"}}
    out = parent.invoke({"clip": str(clip), "query": "What colour is the screen while it is silent?"}, config)
    r = out["reasoning"]
    assert r["iterations"] == [{"iteration": 1, "score": 5}, {"iteration": 2, "score": 8}]
    assert r["best_iteration"] == 2 and r["stop_reason"] == "threshold" and "green" in r["steps_text"]
    assert out["report"].startswith("best of 2 (score 8)")
    # the subgraph ran inside the parent's thread, in its own checkpoint namespace
    namespaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(config)}
    assert any(ns.startswith("watch:") for ns in namespaces), namespaces
    # streaming the parent with subgraphs=True shows the loop's per-iteration events
    events = [chunk for ns, chunk in parent.stream(
        {"clip": str(clip), "query": "Colour?"}, {"configurable": {"thread_id": "incident-8"}}, stream_mode="custom", subgraphs=True
    ) if ns]  # fmt: skip
    assert [e["iteration"] for e in events] == [1, 2] and events[-1]["stop_reason"] == "threshold"


class ToolCallingFake(GenericFakeChatModel):
    """A scripted chat model that accepts tools, standing in for the agent's LLM."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:
        return self


def test_pipeline_as_an_agent_tool(clip, tmp_path):
    tool = aurelia_tool(models=_models(), context={"max_iterations": 2})
    assert tool.name == "watch_video" and set(tool.args) == {"video", "question", "choices", "audio"}
    call = {
        "name": "watch_video",
        "args": {"video": str(clip), "question": "What colour while silent?", "choices": ["red", "blue", "green"]},
        "id": "c1",
    }
    missing = {"name": "watch_video", "args": {"video": str(tmp_path / "nope.mp4"), "question": "What colour?"}, "id": "c0"}
    llm = ToolCallingFake(
        messages=iter(
            [AIMessage(content="", tool_calls=[missing]), AIMessage(content="", tool_calls=[call]), AIMessage(content="It is green.")]
        )
    )
    agent = create_agent(llm, tools=[tool])
    out = agent.invoke({"messages": [HumanMessage("What colour is the screen while the audio is silent?")]})
    tool_msgs = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert tool_msgs[0].status == "error" and "nope.mp4" in tool_msgs[0].content
    result = json.loads(tool_msgs[1].content)
    assert result["answer"] == "green" and result["choice"] == "C" and result["score"] == 8 and result["iterations"] == 2
    assert "Look at the colour after 6s" in result["reasoning"]
    assert out["messages"][-1].content == "It is green."


def test_build_graph_options_for_apps(clip):
    from langgraph.store.memory import InMemoryStore

    from aurelia import build_graph

    saver, store = InMemorySaver(), InMemoryStore()
    graph = build_graph(models=_models(), checkpointer=saver, store=store, name="my-app-aurelia")
    assert graph.name == "my-app-aurelia" and graph.checkpointer is saver and graph.store is store
    config = {"configurable": {"thread_id": "app-1"}}
    out = graph.invoke({"video": str(clip), "question": "Colour?", "choices": ["red", "blue", "green"]}, config)
    assert out["answer"] == "green"
    nodes_run = [h.next[0] for h in graph.get_state_history(config) if h.next][::-1]
    assert nodes_run[:4] == ["__start__", "prepare", "generator", "summarizer"] and nodes_run[-2:] == ["review", "target"]
    assert not graph.get_state(config).next
