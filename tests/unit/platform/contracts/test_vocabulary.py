"""The table vocabulary is the proto's, spelled in lower case."""

from __future__ import annotations

from encore.platform.contracts import vocabulary as v
from encore.protos.encore.v1.event_pb2 import Action, Scenario


def test_every_proto_action_and_scenario_has_one_log_spelling() -> None:
    assert v.ACTIONS == ("exposure", "play_start", "play_end", "skip", "heart", "unheart", "dislike",
                         "share", "download", "comment")
    assert v.SCENARIOS == ("daily_recommend", "private_radio", "playlist", "search")
    for name in v.ACTIONS:
        assert v.action_name(v.ACTION_NUMBER[name]) == name
    assert v.ACTION_NUMBER["play_start"] == Action.PLAY_START
    assert v.SCENARIO_NUMBER["private_radio"] == Scenario.PRIVATE_RADIO
    assert len(v.ACTIONS) == len(Action.keys()) - 1  # all but ACTION_UNSPECIFIED
