"""The wire contract is pinned: numbers, types, services and documentation.

A failure here means a change would break deployed clients or consumers of the event
log. Never renumber or retype; a new field, value or message is added to the pins below
together with the .proto change (see protos/README.md).
"""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor
from grpc_tools import protoc

from encore.protos import build
from encore.protos.encore.v1 import event_pb2, events_pb2, recommender_pb2

FILES = (event_pb2.DESCRIPTOR, events_pb2.DESCRIPTOR, recommender_pb2.DESCRIPTOR)

ENUMS = {
    "encore.v1.Scenario": {
        "SCENARIO_UNSPECIFIED": 0,
        "DAILY_RECOMMEND": 1,
        "PRIVATE_RADIO": 2,
        "PLAYLIST": 3,
        "SEARCH": 4,
    },
    "encore.v1.Action": {
        "ACTION_UNSPECIFIED": 0,
        "EXPOSURE": 1,
        "PLAY_START": 2,
        "PLAY_END": 3,
        "SKIP": 4,
        "HEART": 5,
        "UNHEART": 6,
        "DISLIKE": 7,
        "SHARE": 8,
        "DOWNLOAD": 9,
        "COMMENT": 10,
    },
}

# message -> field -> (number, type)
MESSAGES = {
    "encore.v1.Event": {
        "event_id": (1, "string"),
        "user_id": (2, "int64"),
        "anonymous_id": (3, "string"),
        "session_id": (4, "string"),
        "track_id": (5, "int64"),
        "scenario": (6, "encore.v1.Scenario"),
        "action": (7, "encore.v1.Action"),
        "played_ms": (8, "int64"),
        "position": (9, "int32"),
        "propensity": (10, "float"),
        "request_id": (11, "string"),
        "timestamp": (12, "google.protobuf.Timestamp"),
    },
    "encore.v1.LogEventsRequest": {
        "events": (1, "repeated encore.v1.Event"),
    },
    "encore.v1.Rejection": {
        "index": (1, "int32"),
        "event_id": (2, "string"),
        "reason": (3, "string"),
    },
    "encore.v1.LogEventsResponse": {
        "accepted": (1, "int32"),
        "rejections": (2, "repeated encore.v1.Rejection"),
    },
    "encore.v1.Context": {
        "local_hour": (1, "int32"),
        "utc_offset_minutes": (2, "int32"),
        "scenario": (3, "encore.v1.Scenario"),
        "device": (4, "string"),
    },
    "encore.v1.DailyRecommendRequest": {
        "user_id": (1, "int64"),
        "anonymous_id": (2, "string"),
        "count": (3, "int32"),
        "context": (4, "encore.v1.Context"),
        "exclude_track_ids": (5, "repeated int64"),
        "debug": (6, "bool"),
    },
    "encore.v1.NextTrackRequest": {
        "user_id": (1, "int64"),
        "anonymous_id": (2, "string"),
        "session_id": (3, "string"),
        "recent_track_ids": (4, "repeated int64"),
        "skipped_track_ids": (5, "repeated int64"),
        "hearted_track_ids": (6, "repeated int64"),
        "count": (7, "int32"),
        "context": (8, "encore.v1.Context"),
        "exclude_track_ids": (9, "repeated int64"),
        "debug": (10, "bool"),
    },
    "encore.v1.SimilarTracksRequest": {
        "user_id": (1, "int64"),
        "anonymous_id": (2, "string"),
        "track_id": (3, "int64"),
        "count": (4, "int32"),
        "context": (5, "encore.v1.Context"),
        "exclude_track_ids": (6, "repeated int64"),
        "debug": (7, "bool"),
    },
    "encore.v1.RecommendArtistsRequest": {
        "user_id": (1, "int64"),
        "anonymous_id": (2, "string"),
        "count": (3, "int32"),
        "context": (4, "encore.v1.Context"),
        "exclude_artist_ids": (5, "repeated int64"),
        "debug": (6, "bool"),
    },
    "encore.v1.RecommendedItem": {
        "track_id": (1, "int64"),
        "score": (2, "float"),
        "channels": (3, "repeated string"),
        "is_repeat": (4, "bool"),
        "explanation": (5, "string"),
        "debug_scores": (6, "map<string, float>"),
    },
    "encore.v1.RecommendResponse": {
        "request_id": (1, "string"),
        "items": (2, "repeated encore.v1.RecommendedItem"),
        "model_version": (3, "string"),
        "degraded_channels": (4, "repeated string"),
    },
    "encore.v1.RecommendedArtist": {
        "artist_id": (1, "int64"),
        "score": (2, "float"),
        "channels": (3, "repeated string"),
        "is_repeat": (4, "bool"),
        "explanation": (5, "string"),
        "debug_scores": (6, "map<string, float>"),
    },
    "encore.v1.RecommendArtistsResponse": {
        "request_id": (1, "string"),
        "artists": (2, "repeated encore.v1.RecommendedArtist"),
        "model_version": (3, "string"),
        "degraded_channels": (4, "repeated string"),
    },
}

# message -> oneof -> its fields
ONEOFS = {
    "encore.v1.Event": {"subject": ("user_id", "anonymous_id")},
    "encore.v1.DailyRecommendRequest": {"subject": ("user_id", "anonymous_id")},
    "encore.v1.NextTrackRequest": {"subject": ("user_id", "anonymous_id")},
    "encore.v1.SimilarTracksRequest": {"subject": ("user_id", "anonymous_id")},
    "encore.v1.RecommendArtistsRequest": {"subject": ("user_id", "anonymous_id")},
}

# service -> method -> (request, response); every method is unary-unary.
SERVICES = {
    "encore.v1.Recommender": {
        "DailyRecommend": ("encore.v1.DailyRecommendRequest", "encore.v1.RecommendResponse"),
        "NextTrack": ("encore.v1.NextTrackRequest", "encore.v1.RecommendResponse"),
        "SimilarTracks": ("encore.v1.SimilarTracksRequest", "encore.v1.RecommendResponse"),
        "RecommendArtists": ("encore.v1.RecommendArtistsRequest", "encore.v1.RecommendArtistsResponse"),
    },
    "encore.v1.Events": {
        "Log": ("encore.v1.LogEventsRequest", "encore.v1.LogEventsResponse"),
    },
}

_SCALAR_TYPES = {
    getattr(FieldDescriptor, name): name.removeprefix("TYPE_").lower()
    for name in dir(FieldDescriptor)
    if name.startswith("TYPE_")
}


def _field_type(field: FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type.fields_by_name
        return f"map<{_field_type(entry['key'])}, {_field_type(entry['value'])}>"
    if field.message_type is not None:
        name = field.message_type.full_name
    elif field.enum_type is not None:
        name = field.enum_type.full_name
    else:
        name = _SCALAR_TYPES[field.type]
    return f"repeated {name}" if field.is_repeated else name


def _all(kind: str) -> dict:
    return {d.full_name: d for file in FILES for d in getattr(file, kind).values()}


def test_enum_numbers_are_pinned() -> None:
    actual = {name: {v.name: v.number for v in enum.values} for name, enum in _all("enum_types_by_name").items()}
    assert actual == ENUMS


def test_message_field_numbers_and_types_are_pinned() -> None:
    actual = {
        name: {f.name: (f.number, _field_type(f)) for f in message.fields}
        for name, message in _all("message_types_by_name").items()
    }
    assert actual == MESSAGES


def test_oneofs_are_pinned() -> None:
    actual = {
        name: {o.name: tuple(f.name for f in o.fields) for o in message.oneofs if not o.name.startswith("_")}
        for name, message in _all("message_types_by_name").items()
    }
    assert {name: oneofs for name, oneofs in actual.items() if oneofs} == ONEOFS


def test_services_have_the_expected_methods_and_types() -> None:
    actual = {
        name: {
            m.name: (m.input_type.full_name, m.output_type.full_name)
            for m in service.methods
            if not (m.client_streaming or m.server_streaming)
        }
        for name, service in _all("services_by_name").items()
    }
    assert actual == SERVICES


def _source_descriptors(tmp_path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path / "contract.pb"
    args = [
        "grpc_tools.protoc",
        *(f"--proto_path={path}" for path in build.include_paths()),
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *(str(build.PROTO_ROOT / proto) for proto in build.proto_files()),
    ]
    assert protoc.main(args) == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _elements(file: descriptor_pb2.FileDescriptorProto):
    """(name, source path) of every documentable element, per descriptor.proto's numbering."""
    for i, message in enumerate(file.message_type):  # FileDescriptorProto.message_type = 4
        yield message.name, (4, i)
        for j, field in enumerate(message.field):  # DescriptorProto.field = 2
            yield f"{message.name}.{field.name}", (4, i, 2, j)
    for i, enum in enumerate(file.enum_type):  # FileDescriptorProto.enum_type = 5
        yield enum.name, (5, i)
        for j, value in enumerate(enum.value):  # EnumDescriptorProto.value = 2
            yield f"{enum.name}.{value.name}", (5, i, 2, j)
    for i, service in enumerate(file.service):  # FileDescriptorProto.service = 6
        yield service.name, (6, i)
        for j, method in enumerate(service.method):  # ServiceDescriptorProto.method = 2
            yield f"{service.name}.{method.name}", (6, i, 2, j)


@pytest.mark.parametrize("proto", [str(p) for p in build.proto_files()])
def test_every_message_field_enum_value_service_and_rpc_is_documented(tmp_path, proto: str) -> None:
    """The comments are the API docs for product teams: none may be missing."""
    (file,) = [f for f in _source_descriptors(tmp_path).file if f.name == proto]
    comments = {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}
    undocumented = [name for name, path in _elements(file) if not comments.get(path)]
    assert undocumented == []
