from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from encore.platform.data.common import DataFileError
from encore.platform.data.nowplaying import (
    NowplayingSessions,
    load_nowplaying,
    make_next_item_pairs,
    split_tail,
)


@pytest.fixture(scope="module")
def real(shared_data_dir: Path) -> NowplayingSessions:
    return load_nowplaying(shared_data_dir)


@pytest.mark.realdata
def test_real_file_has_the_published_counts(real: NowplayingSessions) -> None:
    assert real.num_sessions == 128_077
    assert real.num_items == 60_416
    assert len(make_next_item_pairs(real.sessions)) == 825_304
    assert real.describe()["next_item_pairs"] == 825_304


@pytest.mark.realdata
def test_real_validation_split_is_the_tail(real: NowplayingSessions) -> None:
    train, valid = split_tail(real.sessions, 0.1)
    assert len(valid) == round(0.1 * 128_077)
    assert len(train) + len(valid) == 128_077
    assert valid[-1] == real.sessions[-1] and train[0] == real.sessions[0]


def test_pairs_follow_srgnn_on_a_hand_computed_case() -> None:
    pairs = make_next_item_pairs([[1, 2, 3, 4], [7, 8], [9]])
    got = [(pairs.prefix(i).tolist(), int(pairs.targets[i])) for i in range(len(pairs))]
    assert got == [([1], 2), ([1, 2], 3), ([1, 2, 3], 4), ([7], 8)]
    assert pairs.prefix_lengths.tolist() == [1, 2, 3, 1]


@given(st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=8), max_size=20))
def test_pair_count_is_sum_of_lengths_minus_one(sessions: list[list[int]]) -> None:
    pairs = make_next_item_pairs(sessions)
    assert len(pairs) == sum(len(s) - 1 for s in sessions)
    expected = [(s[:k], s[k]) for s in sessions for k in range(1, len(s))]
    assert [(pairs.prefix(i).tolist(), int(pairs.targets[i])) for i in range(len(pairs))] == expected


def test_split_tail_keeps_order_and_rejects_empty_splits() -> None:
    sessions = [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert split_tail(sessions, 0.25) == ([(1, 2), (3, 4), (5, 6)], [(7, 8)])
    for fraction in (0.0, 1.0, 0.05):
        with pytest.raises(ValueError):
            split_tail(sessions, fraction)


def test_tiny_valid_file_loads(tiny_data_dir: Path) -> None:
    loaded = load_nowplaying(tiny_data_dir)
    assert loaded.sessions == ((1, 2), (3, 4, 5), (2, 6))
    assert loaded.num_items == 6
    assert isinstance(make_next_item_pairs(loaded.sessions).items, np.ndarray)


def _write(root: Path, payload: bytes) -> Path:
    path = root / "nowplaying" / "all_train_seq.txt"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (pickle.dumps([[1, 2], [3, 4, 5]], protocol=3)[:-6], "not a pickle"),
        (pickle.dumps({"a": [1, 2]}, protocol=3), "expected a list of sessions, found dict"),
        (pickle.dumps(["ab", "cd"], protocol=3), "expected a list of item ids, found str"),
        (pickle.dumps([[1, 2], [3, -4]], protocol=3), "expected positive item ids, found -4"),
        (pickle.dumps([[1, 2], []], protocol=3), "non-empty session"),
        (pickle.dumps([[1, 2.5]], protocol=3), "expected int item ids, found float"),
        (pickle.dumps([[1, True]], protocol=3), "expected int item ids, found bool"),
        (b"", "not a pickle"),
    ],
    ids=["truncated", "dict", "strings", "negative", "empty-session", "float", "bool", "empty-file"],
)
def test_malformed_pickles_are_refused(tiny_data_dir: Path, payload: bytes, problem: str) -> None:
    path = _write(tiny_data_dir, payload)
    with pytest.raises(DataFileError, match=problem) as info:
        load_nowplaying(tiny_data_dir)
    assert str(path) in str(info.value) and info.value.path == path


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_with_a_global_is_refused_without_running_it(tiny_data_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _write(tiny_data_dir, pickle.dumps([[1, 2], _Exploit(marker)], protocol=3))
    with pytest.raises(DataFileError, match=r"refused global (os|posix)\.system") as info:
        load_nowplaying(tiny_data_dir)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="all_train_seq.txt: cannot be read"):
        load_nowplaying(tmp_path)
