"""`porteiro-eval` end to end: one seeded call through the whole real stack with the real offline speech.

Not a quality threshold: the report must be produced, and its figures must agree with each other
and with the calls it describes.
"""

from __future__ import annotations

import json

import pytest

from porteiro_sim import audio
from porteiro_sim.evaluation.run import main

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.acoustic,
    pytest.mark.skipif(not audio.espeak_available(), reason="needs espeak-ng"),
]


@pytest.mark.timeout(480)
def test_one_call_produces_a_consistent_report(tmp_path, capsys):
    report = tmp_path / "eval.json"
    code = main(["--calls", "1", "--seed", "3", "--json", str(report), "--work-dir", str(tmp_path), "-v"])
    out = capsys.readouterr().out
    assert code == 0, out
    document = json.loads(report.read_text())
    summary, (call,) = document["summary"], document["calls"]
    assert f"calls reaching the right resident: {summary['right_resident']['count']}/1 (" in out
    # The call happened: the greeting was identified on the wire and the visitor answered it.
    assert call["timeline"] and "Condomínio Apoena, em que posso ajudar?" in call["timeline"][0]
    assert call["lines"] and call["lines"][0]["question"] == "greeting"
    assert call["visitor_turns"] == len([line for line in call["lines"] if line["leg"] == "visitor"])
    # The figures agree with the call.
    target = call["persona"]["target"]["destination"]
    assert call["reached_right_resident"] == (
        target in call["destinations"]
        and call["visitor_outcome"]
        in {
            "visitor_authorized_delivery",
            "visitor_authorized_visit",
            "visitor_denied",
            "visitor_left_at_front_desk",
        }
    )
    assert call["reached_wrong_resident"] == any(dest != target for dest in call["destinations"])
    assert summary["right_resident"]["count"] == int(call["reached_right_resident"])
    assert summary["keypad"]["count"] == int(call["used_keypad"])
    assert summary["median_visitor_turns"] == call["visitor_turns"]
    # Every spoken line was matched with what the gateway recognised (PORTEIRO_TRACE_PERSONAL_DATA is on).
    spoken = [line for line in call["lines"] if not line["said"].startswith("#")]
    assert spoken and all(line["heard"] is not None for line in spoken)
    heard = sum(rate["count"] for rate in summary["recognition"].values())
    slots = sum(len(line["slots"]) for line in spoken)
    assert sum(rate["total"] for rate in summary["recognition"].values()) == slots
    assert heard == sum(sum(line["slots"].values()) for line in spoken)
    assert summary["latency_p50"] is not None and 0 < summary["latency_p50"] <= summary["latency_p95"] < 15
    # What the system said, exactly, from its spans: the greeting first.
    assert call["system_sentences"][0] == "Condomínio Apoena, em que posso ajudar?"
