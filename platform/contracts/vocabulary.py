"""The action and scenario vocabulary, derived from the wire contract.

``encore.v1.Action`` and ``encore.v1.Scenario`` (protos/encore/v1/event.proto) are the
source. Tables (the event log, Spark, pandas) spell a value as the lower-case enum name
(``PLAY_START`` -> ``"play_start"``); code that holds a proto uses the enum number.
These helpers are the only translation between the two, so a new enum value in the
proto reaches every table without another edit.
"""

from __future__ import annotations

from typing import Any

from encore.protos.encore.v1.event_pb2 import Action, Scenario


def _log_names(enum: Any, unspecified: int) -> tuple[str, ...]:
    return tuple(name.lower() for name, number in sorted(enum.items(), key=lambda kv: kv[1])
                 if number != unspecified)


#: Every action as the event log spells it, in proto order.
ACTIONS: tuple[str, ...] = _log_names(Action, Action.ACTION_UNSPECIFIED)
#: Every scenario as the event log spells it, in proto order.
SCENARIOS: tuple[str, ...] = _log_names(Scenario, Scenario.SCENARIO_UNSPECIFIED)

ACTION_NUMBER: dict[str, int] = {name: Action.Value(name.upper()) for name in ACTIONS}
SCENARIO_NUMBER: dict[str, int] = {name: Scenario.Value(name.upper()) for name in SCENARIOS}


def action_name(number: int) -> str:
    """The event-log spelling of an ``Action`` number (ValueError for an unknown one)."""
    return Action.Name(number).lower()


def scenario_name(number: int) -> str:
    """The event-log spelling of a ``Scenario`` number (ValueError for an unknown one)."""
    return Scenario.Name(number).lower()


EXPOSURE = action_name(Action.EXPOSURE)
PLAY_START = action_name(Action.PLAY_START)
PLAY_END = action_name(Action.PLAY_END)
SKIP = action_name(Action.SKIP)
HEART = action_name(Action.HEART)
UNHEART = action_name(Action.UNHEART)
DISLIKE = action_name(Action.DISLIKE)

DAILY_RECOMMEND = scenario_name(Scenario.DAILY_RECOMMEND)
PRIVATE_RADIO = scenario_name(Scenario.PRIVATE_RADIO)
PLAYLIST = scenario_name(Scenario.PLAYLIST)
SEARCH = scenario_name(Scenario.SEARCH)
