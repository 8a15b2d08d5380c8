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
