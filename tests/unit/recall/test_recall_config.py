"""The typed recall section of the configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from encore.platform.config import ChannelConfig, ItemCFParams, RecallConfig, load_config


def test_default_recall_section_runs_the_baselines_and_lists_the_neural_channels_off():
    recall = load_config().recall
    assert [c.kind for c in recall.enabled] == ["popularity", "popularity", "popularity", "item_cf", "session_knn", "profile"]
    assert {c.kind for c in recall.channels if not c.enabled} == {"youtube_dnn", "mind", "sdm", "kg_walk",
                                                                      "similar_listeners", "session_gnn"}
    assert recall.channel("item_cf").settings == ItemCFParams()
    assert recall.channel("trending").settings.half_life_hours == 24.0


@pytest.mark.parametrize("channels, message", [
    ([{"name": "a", "kind": "item_cf"}, {"name": "a", "kind": "profile"}], "duplicate channel names"),
    ([{"name": "a", "kind": "youtube"}], "unknown channel kind"),
    ([{"name": "a", "kind": "item_cf", "params": {"heart_bost": 2}}], "heart_bost"),
    ([{"name": "a", "kind": "session_knn", "params": {"neighbours": 0}}], "neighbours"),
    ([{"name": "a", "kind": "profile", "k": 10, "quota": 20}], "quota 20 exceeds k 10"),
])
def test_invalid_recall_sections_are_refused(channels, message):
    with pytest.raises(ValidationError, match=message):
        RecallConfig.model_validate({"channels": channels})


def test_a_config_file_overrides_the_channel_list(tmp_path):
    file = tmp_path / "my.yaml"
    file.write_text("recall:\n  channels:\n    - {name: cf, kind: item_cf, k: 100, quota: 50, "
                    "params: {skip_penalty: 0.5}}\n")
    recall = load_config(file).recall
    assert [c.name for c in recall.channels] == ["cf"] and recall.channels[0].settings.skip_penalty == 0.5
    assert ChannelConfig(name="x", kind="profile", enabled=False) not in RecallConfig(
        channels=[ChannelConfig(name="x", kind="profile", enabled=False)]).enabled
