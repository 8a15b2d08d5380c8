"""The neural recall channel kinds (``youtube_dnn``, ``mind``, ``sdm``): each names its
spaces and builds its model; fitting, the artifact and recall are the
:class:`~encore.recall.neural.channel.NeuralChannel`'s. TensorFlow is imported only when
a model is built, so listing channel kinds stays cheap."""

from __future__ import annotations

import numpy as np

from encore.recall.channel import Candidates
from encore.recall.neural.channel import NeuralChannel
from encore.recall.neural.encoding import Vocabulary


class YouTubeDNNChannel(NeuralChannel):
    """YouTube-DNN with self-attention pooling (:mod:`encore.recall.neural.youtube_dnn`)."""

    kind = "youtube_dnn"
    spaces = ("history",)

    def build_model(self, vocab: Vocabulary):
        from encore.recall.neural.youtube_dnn import YouTubeDNN

        return YouTubeDNN(vocab, self.settings)


class MINDChannel(NeuralChannel):
    """MIND, multi-interest dynamic routing (:mod:`encore.recall.neural.mind`): each of a
    listener's interests asks the ANN for top-k, the lists merge at the best score."""

    kind = "mind"
    spaces = ("interests",)

    def build_model(self, vocab: Vocabulary):
        from encore.recall.neural.mind import MIND

        return MIND(vocab, self.settings)

    def model_report(self, model, features):
        return model.report(features)


class SDMChannel(NeuralChannel):
    """SDM (:mod:`encore.recall.neural.sdm`). ``fusion="gated"`` serves one space
    "fused" and records its gate values in ``training.json`` (``report``).

    ``fusion="two_space"`` serves the spaces "short_term" and "long_term": of the k
    candidates ``long_term_share`` come from the long-term space, the rest from the
    short-term space (either fills up what the other cannot give). The two spaces'
    cosines are not comparable, so the list is not ordered by them: the spaces are
    interleaved in proportion to their quotas, each giving its best track not yet
    taken, so every prefix of the list (the serving merge keeps a channel's first
    ``quota``; recall@K reads the first K) keeps the share; a track found by both
    counts for the space that took it first. Score: 1 - position / n."""

    kind = "sdm"

    @property
    def spaces(self) -> tuple[str, ...]:  # type: ignore[override]
        from encore.recall.neural.sdm import SPACES

        return SPACES[self.settings.fusion]

    def build_model(self, vocab: Vocabulary):
        from encore.recall.neural.sdm import SDM

        return SDM(vocab, self.settings)

    def model_report(self, model, features):
        return {"fusion": self.settings.fusion, **model.gate_report(features)}

    def space_quotas(self, k: int) -> dict[str, int]:
        if self.settings.fusion != "two_space":
            return {space: k for space in self.spaces}
        long = int(round(k * self.settings.long_term_share))
        return {"long_term": long, "short_term": k - long}

    def _merge(self, lists, quotas, k) -> Candidates:
        if self.settings.fusion != "two_space":
            return super()._merge(lists, quotas, k)
        ids_of = {space: ids.tolist() for space, (ids, _) in zip(self.spaces, lists)}
        order = [s for s in quotas if s in ids_of]
        position = dict.fromkeys(order, 0)
        given = dict.fromkeys(order, 0)
        taken: dict[int, int] = {}
        while len(taken) < k:
            open_spaces = [s for s in order if position[s] < len(ids_of[s])]
            if not open_spaces:
                break
            # the space furthest behind its share gives next (a zero quota only fills up)
            space = min(open_spaces, key=lambda s: (given[s] + 0.5) / quotas[s] if quotas[s] else float("inf"))
            ids = ids_of[space]
            while position[space] < len(ids) and ids[position[space]] in taken:
                position[space] += 1
            if position[space] < len(ids):
                taken[ids[position[space]]] = self.spaces.index(space)
                position[space] += 1
                given[space] += 1
        if not taken:
            return Candidates.empty()
        n = len(taken)
        return Candidates(np.fromiter(taken, np.int64, n), (1.0 - np.arange(n) / n).astype(np.float32),
                          np.fromiter(taken.values(), np.int16, n), self.spaces)
