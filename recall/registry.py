"""``CHANNEL_KINDS``: channel kind name -> class, so configuration builds channels by
name; :func:`build_channel` (unfitted, from a ``ChannelConfig``), :func:`load_channel`
(from a saved artifact, dispatching on its ``channel.json`` kind) and
:func:`fit_channels` (every enabled channel of a ``RecallConfig``)."""

from __future__ import annotations

from pathlib import Path

from encore.platform.config import ChannelConfig, RecallConfig
from encore.recall.channel import Channel, ChannelArtifactError, read_channel_meta
from encore.recall.item_cf import ItemCFChannel
from encore.recall.kg_walk import KGWalkChannel
from encore.recall.neural.channels import MINDChannel, SDMChannel, YouTubeDNNChannel
from encore.recall.popularity import PopularityChannel
from encore.recall.profile import ProfileChannel
from encore.recall.session.channel import SessionGNNChannel
from encore.recall.session_knn import SessionKNNChannel
from encore.recall.similar_listeners import SimilarListenersChannel

CHANNEL_KINDS: dict[str, type[Channel]] = {
    cls.kind: cls for cls in (PopularityChannel, ItemCFChannel, SessionKNNChannel, ProfileChannel,
                              YouTubeDNNChannel, MINDChannel, SDMChannel, KGWalkChannel,
                              SimilarListenersChannel, SessionGNNChannel)
}


def build_channel(config: ChannelConfig) -> Channel:
    """An unfitted channel of ``config.kind``."""
    try:
        return CHANNEL_KINDS[config.kind](config)
    except KeyError as err:
        raise ValueError(f"unknown channel kind {config.kind!r}; known: {sorted(CHANNEL_KINDS)}") from err


def load_channel(folder: Path | str) -> Channel:
    """A saved channel of any kind."""
    kind = read_channel_meta(folder)["kind"]
    if kind not in CHANNEL_KINDS:
        raise ChannelArtifactError(f"{folder}: unknown channel kind {kind!r}")
    return CHANNEL_KINDS[kind].load(folder)


def fit_channels(config: RecallConfig, tables) -> list[Channel]:
    """Every enabled channel of ``config``, fitted on ``tables``, in config order."""
    return [build_channel(c).fit(tables) for c in config.enabled]
