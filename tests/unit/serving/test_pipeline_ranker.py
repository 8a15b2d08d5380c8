"""The Pipeline with a promoted ranker: the ranker orders the candidates (a planted
genre preference), its version is reported, and a ranker promoted in the registry is
swapped in by the LiveModel between requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.registry import LiveModel, Registry
from encore.serving.pipeline import DAILY, Pipeline, Request
from testkit import serving as kit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    root = tmp_path_factory.mktemp("models")
    registry = Registry(root / "registry")
    version = registry.publish("ranker", kit.tiny_ranker(root / "art1"), kind="ranker/baseline")
    registry.promote("ranker", version)
    return registry


def test_the_promoted_ranker_orders_the_list(registry: Registry) -> None:
    from encore.ranking.ranker import Ranker

    live = LiveModel(registry, "ranker", Ranker.load, lambda r: r.smoke_test())
    assert live.refresh()
    pipe = Pipeline(channels={n: c for n, c in kit.fitted_channels().items() if n in ("popular", "profile")},
                    recall=kit.recall_config(), config=kit.pipeline_config(max_per_artist=50, repeat_share=0.0),
                    tracks=kit.catalog(), ranker=live)
    result = pipe.recommend_one(Request(kind=DAILY, anonymous_id="a", count=10, request_ms=kit.AS_OF, debug=True))
    assert result.model_version == "ranker:v0001"
    assert len(result.items) == 10 and all("rank.complete_play" in i.debug_scores for i in result.items)
    scores = [i.score for i in result.items]
    assert scores == sorted(scores, reverse=True)
    genres = kit.catalog().set_index("track_id").loc[[i.track_id for i in result.items], "genre"]
    assert (genres == "rock").mean() > 0.5  # the planted preference: rock completes

    # a new promotion is swapped in between requests
    v2 = registry.publish("ranker", kit.tiny_ranker(Path(registry.root).parent / "art2", seed=2), kind="ranker/baseline")
    registry.promote("ranker", v2)
    assert live.refresh()
    again = pipe.recommend_one(Request(kind=DAILY, anonymous_id="a", count=10, request_ms=kit.AS_OF))
    assert again.model_version == f"ranker:{v2}" and len(again.items) == 10
    pipe.close()


@pytest.mark.parametrize("model", ["din", "dien"])
def test_a_sequence_ranker_reads_the_querys_play_sequence(tmp_path, model: str) -> None:
    """The Pipeline gives a sequence ranker the listener Query's recent plays (the
    sequence training reads from the same Query builder): with a jazz history jazz comes
    first, with a rock history rock does."""
    from encore.ranking.ranker import Ranker
    from encore.recall.query import Context, Query

    ranker = Ranker.load(kit.tiny_ranker(tmp_path / model, model=model, rows=1500))
    assert ranker.spec.behaviours == ["play"]
    pipe = Pipeline(channels={n: c for n, c in kit.fitted_channels().items() if n in ("popular", "profile")},
                    recall=kit.recall_config(), config=kit.pipeline_config(max_per_artist=50, repeat_share=0.0),
                    tracks=kit.catalog(), ranker=ranker)
    genre_of = kit.catalog().set_index("track_id")["genre"]
    served = {}
    for genre, history in (("jazz", (101, 104, 107, 110, 113)), ("rock", (100, 103, 106, 109, 112))):
        query = Query(context=Context(request_ms=kit.AS_OF, local_hour=0, scenario="daily_recommend"), user_id=7,
                      play_track_ids=history, play_ts_ms=tuple(kit.AS_OF - 1000 * (5 - i) for i in range(5)))
        result = pipe.recommend_one(Request(kind=DAILY, user_id=7, count=10, request_ms=kit.AS_OF, query=query))
        assert result.model_version.startswith("ranker") and len(result.items) == 10
        served[genre] = genre_of.loc[[i.track_id for i in result.items]].to_numpy()
    # the head of the list follows the history (the small candidate pool holds few of each genre)
    assert (served["jazz"][:2] == "jazz").all() and (served["rock"][:2] == "rock").all(), served
    pipe.close()
