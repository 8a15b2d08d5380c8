"""The neural recall channel kinds (``youtube_dnn``, ``mind``, ``sdm``): each names its
spaces and builds its model; fitting, the artifact and recall are the
:class:`~encore.recall.neural.channel.NeuralChannel`'s. TensorFlow is imported only when
a model is built, so listing channel kinds stays cheap."""

from __future__ import annotations

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
