"""Neural recall channels: two-tower models trained with TensorFlow Recommenders on the
complete plays of ``recall_samples``, served through ANN indexes of their item vectors
(see :mod:`encore.recall.neural.channel`)."""
