from encore.protos.encore.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Context(_message.Message):
    __slots__ = ("local_hour", "utc_offset_minutes", "scenario", "device")
    LOCAL_HOUR_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    local_hour: int
    utc_offset_minutes: int
    scenario: _event_pb2.Scenario
    device: str
    def __init__(self, local_hour: _Optional[int] = ..., utc_offset_minutes: _Optional[int] = ..., scenario: _Optional[_Union[_event_pb2.Scenario, str]] = ..., device: _Optional[str] = ...) -> None: ...

class DailyRecommendRequest(_message.Message):
    __slots__ = ("user_id", "anonymous_id", "count", "context", "exclude_track_ids", "debug")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    DEBUG_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    anonymous_id: str
    count: int
    context: Context
    exclude_track_ids: _containers.RepeatedScalarFieldContainer[int]
    debug: bool
    def __init__(self, user_id: _Optional[int] = ..., anonymous_id: _Optional[str] = ..., count: _Optional[int] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., exclude_track_ids: _Optional[_Iterable[int]] = ..., debug: _Optional[bool] = ...) -> None: ...

class NextTrackRequest(_message.Message):
    __slots__ = ("user_id", "anonymous_id", "session_id", "recent_track_ids", "skipped_track_ids", "hearted_track_ids", "count", "context", "exclude_track_ids", "debug")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RECENT_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    HEARTED_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    DEBUG_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    anonymous_id: str
    session_id: str
    recent_track_ids: _containers.RepeatedScalarFieldContainer[int]
    skipped_track_ids: _containers.RepeatedScalarFieldContainer[int]
    hearted_track_ids: _containers.RepeatedScalarFieldContainer[int]
    count: int
    context: Context
    exclude_track_ids: _containers.RepeatedScalarFieldContainer[int]
    debug: bool
    def __init__(self, user_id: _Optional[int] = ..., anonymous_id: _Optional[str] = ..., session_id: _Optional[str] = ..., recent_track_ids: _Optional[_Iterable[int]] = ..., skipped_track_ids: _Optional[_Iterable[int]] = ..., hearted_track_ids: _Optional[_Iterable[int]] = ..., count: _Optional[int] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., exclude_track_ids: _Optional[_Iterable[int]] = ..., debug: _Optional[bool] = ...) -> None: ...

class SimilarTracksRequest(_message.Message):
    __slots__ = ("user_id", "anonymous_id", "track_id", "count", "context", "exclude_track_ids", "debug")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_TRACK_IDS_FIELD_NUMBER: _ClassVar[int]
    DEBUG_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    anonymous_id: str
    track_id: int
    count: int
    context: Context
    exclude_track_ids: _containers.RepeatedScalarFieldContainer[int]
    debug: bool
    def __init__(self, user_id: _Optional[int] = ..., anonymous_id: _Optional[str] = ..., track_id: _Optional[int] = ..., count: _Optional[int] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., exclude_track_ids: _Optional[_Iterable[int]] = ..., debug: _Optional[bool] = ...) -> None: ...

class RecommendArtistsRequest(_message.Message):
    __slots__ = ("user_id", "anonymous_id", "count", "context", "exclude_artist_ids", "debug")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_ARTIST_IDS_FIELD_NUMBER: _ClassVar[int]
    DEBUG_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    anonymous_id: str
    count: int
    context: Context
    exclude_artist_ids: _containers.RepeatedScalarFieldContainer[int]
    debug: bool
    def __init__(self, user_id: _Optional[int] = ..., anonymous_id: _Optional[str] = ..., count: _Optional[int] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., exclude_artist_ids: _Optional[_Iterable[int]] = ..., debug: _Optional[bool] = ...) -> None: ...

class RecommendedItem(_message.Message):
    __slots__ = ("track_id", "score", "channels", "is_repeat", "explanation", "debug_scores")
    class DebugScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    IS_REPEAT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    DEBUG_SCORES_FIELD_NUMBER: _ClassVar[int]
    track_id: int
    score: float
    channels: _containers.RepeatedScalarFieldContainer[str]
    is_repeat: bool
    explanation: str
    debug_scores: _containers.ScalarMap[str, float]
    def __init__(self, track_id: _Optional[int] = ..., score: _Optional[float] = ..., channels: _Optional[_Iterable[str]] = ..., is_repeat: _Optional[bool] = ..., explanation: _Optional[str] = ..., debug_scores: _Optional[_Mapping[str, float]] = ...) -> None: ...

class RecommendResponse(_message.Message):
    __slots__ = ("request_id", "items", "model_version", "degraded_channels")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    items: _containers.RepeatedCompositeFieldContainer[RecommendedItem]
    model_version: str
    degraded_channels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[RecommendedItem, _Mapping]]] = ..., model_version: _Optional[str] = ..., degraded_channels: _Optional[_Iterable[str]] = ...) -> None: ...

class RecommendedArtist(_message.Message):
    __slots__ = ("artist_id", "score", "channels", "is_repeat", "explanation", "debug_scores")
    class DebugScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ARTIST_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    IS_REPEAT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    DEBUG_SCORES_FIELD_NUMBER: _ClassVar[int]
    artist_id: int
    score: float
    channels: _containers.RepeatedScalarFieldContainer[str]
    is_repeat: bool
    explanation: str
    debug_scores: _containers.ScalarMap[str, float]
    def __init__(self, artist_id: _Optional[int] = ..., score: _Optional[float] = ..., channels: _Optional[_Iterable[str]] = ..., is_repeat: _Optional[bool] = ..., explanation: _Optional[str] = ..., debug_scores: _Optional[_Mapping[str, float]] = ...) -> None: ...

class RecommendArtistsResponse(_message.Message):
    __slots__ = ("request_id", "artists", "model_version", "degraded_channels")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ARTISTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    artists: _containers.RepeatedCompositeFieldContainer[RecommendedArtist]
    model_version: str
    degraded_channels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., artists: _Optional[_Iterable[_Union[RecommendedArtist, _Mapping]]] = ..., model_version: _Optional[str] = ..., degraded_channels: _Optional[_Iterable[str]] = ...) -> None: ...
