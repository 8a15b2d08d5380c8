import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scenario(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCENARIO_UNSPECIFIED: _ClassVar[Scenario]
    DAILY_RECOMMEND: _ClassVar[Scenario]
    PRIVATE_RADIO: _ClassVar[Scenario]
    PLAYLIST: _ClassVar[Scenario]
    SEARCH: _ClassVar[Scenario]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    EXPOSURE: _ClassVar[Action]
    PLAY_START: _ClassVar[Action]
    PLAY_END: _ClassVar[Action]
    SKIP: _ClassVar[Action]
    HEART: _ClassVar[Action]
    UNHEART: _ClassVar[Action]
    DISLIKE: _ClassVar[Action]
    SHARE: _ClassVar[Action]
    DOWNLOAD: _ClassVar[Action]
    COMMENT: _ClassVar[Action]
SCENARIO_UNSPECIFIED: Scenario
DAILY_RECOMMEND: Scenario
PRIVATE_RADIO: Scenario
PLAYLIST: Scenario
SEARCH: Scenario
ACTION_UNSPECIFIED: Action
EXPOSURE: Action
PLAY_START: Action
PLAY_END: Action
SKIP: Action
HEART: Action
UNHEART: Action
DISLIKE: Action
SHARE: Action
DOWNLOAD: Action
COMMENT: Action

class Event(_message.Message):
    __slots__ = ("event_id", "user_id", "anonymous_id", "session_id", "track_id", "scenario", "action", "played_ms", "position", "propensity", "request_id", "timestamp")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PLAYED_MS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    user_id: int
    anonymous_id: str
    session_id: str
    track_id: int
    scenario: Scenario
    action: Action
    played_ms: int
    position: int
    propensity: float
    request_id: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., user_id: _Optional[int] = ..., anonymous_id: _Optional[str] = ..., session_id: _Optional[str] = ..., track_id: _Optional[int] = ..., scenario: _Optional[_Union[Scenario, str]] = ..., action: _Optional[_Union[Action, str]] = ..., played_ms: _Optional[int] = ..., position: _Optional[int] = ..., propensity: _Optional[float] = ..., request_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
