"""The emotion-aware heterogeneous session GNN ("Emotion-enhanced heterogeneous graph
neural network for music session-based recommendation", built on SR-GNN: Wu, S. et al.
2019, "Session-based recommendation with graph neural networks", AAAI).

Shapes: B sessions, T clicks, U distinct items (nodes), D hidden size, N + 1 items
(0 = padding), E emotion dimensions (valence, arousal, ...).

1. Initial node representations (B, U, D): the item embedding E[v] plus, with
   ``hetero``, one message per relation r of the heterogeneous graph
   (:mod:`encore.recall.session.hetero`): (A_r[v] X_r) W_r, X_r the item embedding
   (co-occurrence) or the relation's own node table (listeners, emotion regions).
2. Gated GNN over the session graph (:mod:`encore.recall.session.graph`), ``steps``
   times: a = [A_in (h W_in + b_in), A_out (h W_out + b_out)] (B, U, 2D), then SR-GNN's
   GRU update of h from a.
3. Readout over the clicks' states (B, T, D): local s_l = the last click's state; global
   s_g = sum_t alpha_t h_t, alpha_t = q^T sigmoid(W_1 s_l + W_2 h_t + c) (masked).
   ``readout``: "hybrid" (s = W_3 [s_l; s_g]), "global" (s_g only) or "local" (s_l only).
4. Emotion fusion (``emotion``): each item's emotion vector m_i (E,) becomes
   u_i = tanh(m_i W_m + b_m) (D,); the session's emotion is m_s = [m_last; mean m]
   (2E,), fused into the session vector s = W_3 [.. ; tanh(m_s W_s + b_s)], and the
   candidates become E_i + u_i. An explicit affinity -softplus(kappa) ||m^ - m_i||^2,
   m^ = sigmoid(lambda) m_last + (1 - sigmoid(lambda)) mean m, lets the model follow the
   session's mood directly.
5. Scores (B, N + 1) = s . candidates + affinity, softmax over all items (padding
   masked), cross-entropy, Adam, L2 on every weight.
6. Training with ``negatives`` = S > 0 (evaluation always scores all N items): sampled
   softmax (Bengio & Senecal 2008; Jean et al. 2015) over one shared candidate set per
   step, C = the batch's targets and S items drawn from popularity^``negative_alpha``
   (Q), deduplicated (C distinct items: a sampled item equal to a target is an accidental
   hit and merged with it, never a second negative). Logits (B, C) are corrected by
   -log p_c, p_c the probability that item c is in the set (the "logQ correction",
   Yi et al. 2019, RecSys), so that the sampled loss estimates the full softmax; when
   every item is in C for certain (p_c = 1), the loss is the full one. The L2 term then covers
   the dense weights and only the embedding rows the step used (SR-GNN's weight decay,
   without a dense 60k x D update per step).

The weights are plain numpy arrays (:meth:`SessionGNN.weights`), saved in the channel's
``arrays.npz``; loading rebuilds the model from its config and assigns them, so scores
after a reload are identical.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from encore.recall.session.graph import graph_batch
from encore.recall.session.hetero import HeteroGraph

log = logging.getLogger(__name__)

READOUTS = ("hybrid", "global", "local")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and training settings (the ablations: ``readout``, ``emotion``,
    ``hetero``)."""

    num_items: int
    hidden: int = 100
    steps: int = 1
    readout: str = "hybrid"
    emotion: bool = True
    hetero: bool = True
    emotion_dim: int = 2
    relations: dict[str, int] = field(default_factory=dict)  # relation -> node count
    max_length: int = 50
    batch_size: int = 100
    epochs: int = 3
    learning_rate: float = 0.001
    lr_decay: float = 0.1
    lr_decay_epochs: int = 3
    l2: float = 1e-5
    seed: int = 0
    negatives: int = 0  # S sampled negatives per training step; 0 = full softmax
    negative_alpha: float = 0.75  # Q(item) ~ (training-target count + 1)^alpha

    def __post_init__(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.num_items < 1 or self.hidden < 1 or self.steps < 1:
            raise ValueError("num_items, hidden and steps must be >= 1")
        if self.negatives < 0 or self.negative_alpha < 0:
            raise ValueError("negatives and negative_alpha must be >= 0")
        if self.lr_decay <= 0 or self.lr_decay_epochs < 1:
            raise ValueError("lr_decay must be > 0 and lr_decay_epochs >= 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def softmax_xent(logits: Any, targets: Any) -> Any:
    """(B,) cross-entropy of (B, N) logits against target columns, with the gradient
    softmax - one_hot written out: TF's fused op spends twice as long on CPU over 60k
    columns, the largest cost of a training step."""
    import tensorflow as tf

    @tf.custom_gradient
    def xent(logits: Any) -> Any:
        z = logits - tf.stop_gradient(tf.reduce_max(logits, axis=1, keepdims=True))
        e = tf.exp(z)
        total = tf.reduce_sum(e, axis=1, keepdims=True)
        loss = tf.math.log(total[:, 0]) - tf.gather(z, targets, batch_dims=1)

        def grad(upstream: Any) -> Any:
            rows = tf.range(tf.shape(targets, out_type=tf.int64)[0])
            g = tf.tensor_scatter_nd_sub(e / total, tf.stack([rows, targets], axis=1),
                                         tf.ones(tf.shape(targets), tf.float32))
            return upstream[:, None] * g

        return loss, grad

    return xent(logits)


def relation_message(adj: Any, table: Any) -> Any:
    """A_r[nodes] X_r: (B*U, D) from the sparse (B*U, M) rows ``adj`` and the (M, D)
    ``table``, reading only the K distinct columns the batch uses, so that the gradient
    to the table is K rows (sparse) rather than a dense (M, D) product A^T G: with the
    60k-row item embedding that dense gradient was the largest cost left in a
    sampled-softmax step."""
    import tensorflow as tf

    cols, local = tf.unique(adj.indices[:, 1])
    sub = tf.SparseTensor(tf.stack([adj.indices[:, 0], tf.cast(local, tf.int64)], axis=1), adj.values,
                          tf.stack([adj.dense_shape[0], tf.cast(tf.size(cols), tf.int64)]))
    return tf.sparse.sparse_dense_matmul(sub, tf.gather(table, cols))


def sampled_softmax_xent(logits: Any, positive: Any, log_p: Any) -> Any:
    """(B,) sampled-softmax cross-entropy: ``logits`` (B, C) over the distinct candidate
    items, ``positive`` (B,) each row's target column, ``log_p`` (C,) the log probability
    that each candidate is in the set (the logQ correction: subtracted from every column,
    the target's too, as in Jean et al. 2015)."""
    import tensorflow as tf

    z = logits - log_p[None, :]
    return tf.reduce_logsumexp(z, axis=1) - tf.gather(z, positive, batch_dims=1)


def candidate_set(targets: np.ndarray, negatives: np.ndarray, log_keep_q: np.ndarray,
                  log_keep_p: np.ndarray, num_negatives: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidates (C,) distinct item ids, positive (B,) the column of each target,
    log_p (C,) log P(item in the set)) of one step's shared set: the B ``targets`` and
    the ``negatives`` drawn i.i.d. from Q. An item is in the set unless all S draws and
    all B targets miss it: p = 1 - (1 - Q)^S (1 - P)^B, P the target distribution;
    ``log_keep_q`` = log(1 - Q) and ``log_keep_p`` = log(1 - P) per item id (N + 1,)."""
    candidates, inverse = np.unique(np.concatenate([targets, negatives]), return_inverse=True)
    log_miss = num_negatives * log_keep_q[candidates] + len(targets) * log_keep_p[candidates]
    log_p = np.log(-np.expm1(np.minimum(log_miss, -1e-12)))  # log(1 - miss), miss < 1 always here
    return candidates, inverse[:len(targets)], log_p.astype(np.float32)


class NegativeSampler:
    """Draws one step's negatives from Q(i) ~ (count_i + 1)^alpha, count_i = how often
    item i is a training target (the + 1 keeps every item drawable), and builds the
    candidate set (:func:`candidate_set`)."""

    def __init__(self, labels: np.ndarray, num_items: int, alpha: float):
        counts = np.bincount(np.asarray(labels, np.int64), minlength=num_items + 1)[:num_items + 1].astype(np.float64)
        weight = (counts[1:] + 1.0) ** alpha
        q = np.concatenate([[0.0], weight / weight.sum()])  # (N + 1,), padding never drawn
        p = counts / counts.sum()  # the targets' own distribution (in-batch candidates)
        self.cdf = np.cumsum(q[1:])
        with np.errstate(divide="ignore"):
            self.log_keep_q = np.log1p(-np.minimum(q, 1.0))
            self.log_keep_p = np.log1p(-np.minimum(p, 1.0))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n,) item ids (1..N) drawn i.i.d. from Q."""
        picks = np.searchsorted(self.cdf, rng.random(n) * self.cdf[-1], side="right")
        return np.minimum(picks, len(self.cdf) - 1).astype(np.int64) + 1

    def candidates(self, targets: np.ndarray, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return candidate_set(np.asarray(targets, np.int64), self.draw(n, rng), self.log_keep_q,
                             self.log_keep_p, n)


class SessionGNN:
    """The model (see the module docstring). ``emotion_table`` (N + 1, E) float32 and
    ``graph`` are fixed inputs (not trained)."""

    def __init__(self, spec: ModelSpec, emotion_table: np.ndarray | None = None,
                 graph: HeteroGraph | None = None):
        import tensorflow as tf

        self.spec = spec
        n, d = spec.num_items + 1, spec.hidden
        if spec.emotion:
            if emotion_table is None or emotion_table.shape != (n, spec.emotion_dim):
                raise ValueError(f"emotion needs an emotion table of shape ({n}, {spec.emotion_dim})")
        if spec.hetero and graph is None:
            raise ValueError("hetero needs the heterogeneous graph")
        self.graph = graph if spec.hetero else None
        self.relations = sorted(self.graph.sizes) if self.graph is not None else []
        self.emotion_table = (np.asarray(emotion_table, np.float32) if spec.emotion and emotion_table is not None
                              else np.zeros((n, max(spec.emotion_dim, 1)), np.float32))
        rng = np.random.default_rng(spec.seed)
        stdv = 1.0 / math.sqrt(d)

        def var(name: str, shape: tuple[int, ...], zero: bool = False) -> tf.Variable:
            init = np.zeros(shape, np.float32) if zero else rng.uniform(-stdv, stdv, shape).astype(np.float32)
            return tf.Variable(init, name=name)

        v: dict[str, tf.Variable] = {"embedding": var("embedding", (n, d))}
        v.update({"w_in": var("w_in", (d, d)), "b_in": var("b_in", (d,)), "w_out": var("w_out", (d, d)),
                  "b_out": var("b_out", (d,)), "w_ih": var("w_ih", (2 * d, 3 * d)), "b_ih": var("b_ih", (3 * d,)),
                  "w_hh": var("w_hh", (d, 3 * d)), "b_hh": var("b_hh", (3 * d,)),
                  "w_1": var("w_1", (d, d)), "w_2": var("w_2", (d, d)), "c": var("c", (d,)),
                  "q": var("q", (d, 1))})
        parts = {"hybrid": 2, "global": 1, "local": 1}[spec.readout] + (1 if spec.emotion else 0)
        v["w_3"] = var("w_3", (parts * d, d))
        for r in self.relations:
            v[f"het_w_{r}"] = var(f"het_w_{r}", (d, d))
            if r != "cooccur":
                v[f"het_x_{r}"] = var(f"het_x_{r}", (graph.sizes[r], d))  # type: ignore[union-attr]
        if spec.emotion:
            e = spec.emotion_dim
            v.update({"w_m": var("w_m", (e, d)), "b_m": var("b_m", (d,)), "w_s": var("w_s", (2 * e, d)),
                      "b_s": var("b_s", (d,)), "kappa": var("kappa", (), zero=True),
                      "lam": var("lam", (), zero=True)})
        self.vars = v
        self._emotion = tf.constant(self.emotion_table)
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=spec.learning_rate)
        sparse = tuple(tf.SparseTensorSpec(shape=[None, None], dtype=tf.float32) for _ in self.relations)
        batch = (tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None], tf.float32),
                 tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None, None], tf.int64),
                 tf.TensorSpec([None, None, None], tf.float32), tf.TensorSpec([None, None, None], tf.float32),
                 tf.TensorSpec([None], tf.int64), sparse)
        self._train_step = tf.function(self._train_step_py,
                                       input_signature=[batch, tf.TensorSpec([None], tf.int64)])
        self._sampled_step = tf.function(self._sampled_step_py, input_signature=[
            batch, tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float32)])
        self._scores = tf.function(self._scores_py, input_signature=[batch])

    # -- forward ------------------------------------------------------------------------
    def _logits(self, batch: tuple, columns: Any = None) -> Any:
        """(B, N) logits over items 1..N, or (B, C) over the item ids ``columns`` (C,)."""
        import tensorflow as tf

        items, mask, nodes, alias, a_in, a_out, last, het = batch
        v, spec = self.vars, self.spec
        emb = v["embedding"]
        h = tf.gather(emb, nodes)  # (B, U, D)
        b, u = tf.shape(nodes)[0], tf.shape(nodes)[1]
        for r, adj in zip(self.relations, het):
            table = emb if r == "cooccur" else v[f"het_x_{r}"]
            msg = relation_message(adj, table)  # (B*U, D)
            h = h + tf.reshape(tf.matmul(msg, v[f"het_w_{r}"]), (b, u, spec.hidden))
        for _ in range(spec.steps):
            h = self._ggnn_step(h, a_in, a_out)
        seq = tf.gather(h, alias, batch_dims=1)  # (B, T, D)
        s_l = tf.gather(seq, last, batch_dims=1)  # (B, D)
        alpha = tf.matmul(tf.sigmoid(tf.matmul(s_l, v["w_1"])[:, None, :]
                                     + tf.einsum("btd,de->bte", seq, v["w_2"]) + v["c"]), v["q"])  # (B, T, 1)
        s_g = tf.reduce_sum(alpha * seq * mask[:, :, None], axis=1)
        parts = {"hybrid": [s_l, s_g], "global": [s_g], "local": [s_l]}[spec.readout]
        # items 1..N only: the padding item is never a candidate (column j = item j + 1)
        cand_emb = emb[1:] if columns is None else tf.gather(emb, columns)  # (C, D)
        affinity = None
        if spec.emotion:
            m = tf.gather(self._emotion, items)  # (B, T, E)
            m_last = tf.gather(m, last, batch_dims=1)
            m_mean = tf.reduce_sum(m * mask[:, :, None], axis=1) / tf.reduce_sum(mask, axis=1, keepdims=True)
            parts.append(tf.tanh(tf.matmul(tf.concat([m_last, m_mean], axis=1), v["w_s"]) + v["b_s"]))
            cand_m = self._emotion[1:] if columns is None else tf.gather(self._emotion, columns)  # (C, E)
            cand_emb = cand_emb + tf.tanh(tf.matmul(cand_m, v["w_m"]) + v["b_m"])
            lam = tf.sigmoid(v["lam"])
            m_hat = lam * m_last + (1.0 - lam) * m_mean  # (B, E)
            dist = (tf.reduce_sum(m_hat ** 2, axis=1, keepdims=True)
                    - 2.0 * tf.matmul(m_hat, cand_m, transpose_b=True)
                    + tf.reduce_sum(cand_m ** 2, axis=1)[None, :])
            affinity = -tf.nn.softplus(v["kappa"]) * dist
        s = tf.matmul(tf.concat(parts, axis=1), v["w_3"])
        logits = tf.matmul(s, cand_emb, transpose_b=True)  # (B, N) or (B, C)
        if affinity is not None:
            logits = logits + affinity
        return logits

    def _ggnn_step(self, h: Any, a_in: Any, a_out: Any) -> Any:
        import tensorflow as tf

        v = self.vars
        inp = tf.matmul(a_in, tf.einsum("bud,de->bue", h, v["w_in"]) + v["b_in"])
        out = tf.matmul(a_out, tf.einsum("bud,de->bue", h, v["w_out"]) + v["b_out"])
        a = tf.concat([inp, out], axis=2)
        gi = tf.einsum("bun,nm->bum", a, v["w_ih"]) + v["b_ih"]
        gh = tf.einsum("bud,dm->bum", h, v["w_hh"]) + v["b_hh"]
        i_r, i_i, i_n = tf.split(gi, 3, axis=2)
        h_r, h_i, h_n = tf.split(gh, 3, axis=2)
        reset = tf.sigmoid(i_r + h_r)
        update = tf.sigmoid(i_i + h_i)
        new = tf.tanh(i_n + reset * h_n)
        return new + update * (h - new)  # SR-GNN's cell: hy = newgate + inputgate * (hidden - newgate)

    def _train_step_py(self, batch: tuple, targets: Any) -> Any:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            logits = self._logits(batch)
            loss = tf.reduce_mean(softmax_xent(logits, targets - 1))
            l2 = tf.add_n([tf.reduce_sum(w ** 2) for w in self.vars.values()])
            total = loss + self.spec.l2 * l2
        variables = list(self.vars.values())
        grads = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss

    def _sampled_step_py(self, batch: tuple, columns: Any, positive: Any, log_p: Any) -> Any:
        """One sampled-softmax step (module docstring, 6): ``columns`` (C,) the candidate
        item ids, ``positive`` (B,) each target's column, ``log_p`` (C,)."""
        import tensorflow as tf

        emb = self.vars["embedding"]
        with tf.GradientTape() as tape:
            logits = self._logits(batch, columns)
            loss = tf.reduce_mean(sampled_softmax_xent(logits, positive, log_p))
            # L2 on the rows this step touched (session nodes and candidates), every
            # other weight in full: the row-wise share of SR-GNN's weight decay
            used = tf.unique(tf.concat([tf.reshape(batch[2], [-1]), columns], axis=0))[0]
            l2 = tf.add_n([tf.reduce_sum(tf.gather(emb, used) ** 2)]
                          + [tf.reduce_sum(w ** 2) for k, w in self.vars.items() if k != "embedding"])
            total = loss + self.spec.l2 * l2
        variables = list(self.vars.values())
        grads = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss

    def _scores_py(self, batch: tuple) -> Any:
        return self._logits(batch)

    # -- batches ------------------------------------------------------------------------
    def batch(self, sequences: Sequence[Sequence[int]]) -> tuple:
        import tensorflow as tf

        g = graph_batch(sequences, self.spec.max_length)
        het = []
        for r in self.relations:
            assert self.graph is not None
            rows, cols, vals = self.graph.rows(r, g.nodes)
            het.append(tf.SparseTensor(np.stack([rows, cols], axis=1).astype(np.int64), vals.astype(np.float32),
                                       (g.nodes.size, self.graph.sizes[r])))
        return (g.items, g.mask, g.nodes, g.alias, g.a_in, g.a_out, g.last, tuple(het))

    def scores(self, sequences: Sequence[Sequence[int]], batch_size: int = 256) -> Iterator[np.ndarray]:
        """Dense (b, N + 1) score rows per batch, column = item id (padding column -inf)."""
        for i in range(0, len(sequences), batch_size):
            logits = self._scores(self.batch(sequences[i:i + batch_size])).numpy()
            yield np.concatenate([np.full((len(logits), 1), -np.inf, np.float32), logits], axis=1)

    # -- training -----------------------------------------------------------------------
    def fit(self, sequences: Sequence[Sequence[int]], labels: np.ndarray, *, epochs: int | None = None,
            log_every_s: float = 30.0, after_epoch: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
        """Mini-batch training, shuffled each epoch; learning rate times ``lr_decay``
        every ``lr_decay_epochs``. ``after_epoch`` (e.g. a small held-out check) runs
        after every epoch, its result kept in ``per_epoch`` with the training wall
        seconds so far (its own time not counted). Returns epochs, losses and wall time."""
        spec = self.spec
        epochs = spec.epochs if epochs is None else epochs
        labels = np.asarray(labels, np.int64)
        if len(sequences) != len(labels) or not len(labels):
            raise ValueError("fit needs as many sequences as labels, at least one")
        if int(labels.max()) > spec.num_items or int(labels.min()) < 1:
            raise ValueError(f"labels must be item ids in 1..{spec.num_items}")
        rng = np.random.default_rng(spec.seed)
        sampler = NegativeSampler(labels, spec.num_items, spec.negative_alpha) if spec.negatives else None
        losses: list[float] = []
        per_epoch: list[dict[str, Any]] = []
        checks = 0.0  # seconds spent in after_epoch, not training
        started = time.perf_counter()
        steps_per_epoch = math.ceil(len(labels) / spec.batch_size)
        for epoch in range(epochs):
            self.optimizer.learning_rate.assign(spec.learning_rate * spec.lr_decay ** (epoch // spec.lr_decay_epochs))
            order = rng.permutation(len(labels))
            total, last_log, epoch_start = 0.0, time.perf_counter(), time.perf_counter()
            for step in range(steps_per_epoch):
                pick = order[step * spec.batch_size:(step + 1) * spec.batch_size]
                batch = self.batch([sequences[i] for i in pick])
                if sampler is None:
                    loss = self._train_step(batch, labels[pick])
                else:
                    columns, positive, log_p = sampler.candidates(labels[pick], spec.negatives, rng)
                    loss = self._sampled_step(batch, columns, positive, log_p)
                total += float(loss)
                now = time.perf_counter()
                if now - last_log >= log_every_s:
                    rate = (step + 1) / (now - epoch_start)
                    left = (steps_per_epoch - step - 1) + (epochs - epoch - 1) * steps_per_epoch
                    log.info("epoch %d/%d step %d/%d loss %.4f, %.2f steps/s, epoch ETA %.0f s, total ETA %.0f s",
                             epoch + 1, epochs, step + 1, steps_per_epoch, total / (step + 1), rate,
                             (steps_per_epoch - step - 1) / rate, left / rate)
                    last_log = now
            losses.append(round(total / steps_per_epoch, 5))
            log.info("epoch %d/%d done: loss %.4f, %.0f s", epoch + 1, epochs, losses[-1],
                     time.perf_counter() - epoch_start)
            if after_epoch is not None:
                check_start = time.perf_counter()
                per_epoch.append({"epoch": epoch + 1, "train_seconds": round(check_start - started - checks, 1),
                                  **after_epoch()})
                checks += time.perf_counter() - check_start
                log.info("epoch %d/%d check: %s", epoch + 1, epochs, per_epoch[-1])
        seconds = time.perf_counter() - started - checks
        return {"epochs": epochs, "pairs": int(len(labels)), "batch_size": spec.batch_size, "losses": losses,
                "loss": f"sampled softmax, {spec.negatives} negatives" if spec.negatives else "full softmax",
                "learning_rates": [spec.learning_rate * spec.lr_decay ** (e // spec.lr_decay_epochs)
                                   for e in range(epochs)],
                "train_seconds": round(seconds, 1), "steps": epochs * steps_per_epoch,
                "steps_per_second": round(epochs * steps_per_epoch / max(seconds, 1e-9), 3),
                **({"per_epoch": per_epoch} if after_epoch is not None else {})}

    # -- weights ------------------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        return {f"w_{name}": var.numpy() for name, var in self.vars.items()}

    def set_weights(self, arrays: dict[str, np.ndarray]) -> None:
        for name, var in self.vars.items():
            key = f"w_{name}"
            if key not in arrays:
                raise ValueError(f"weights lack {key!r}")
            if tuple(arrays[key].shape) != tuple(var.shape):
                raise ValueError(f"weight {key}: shape {arrays[key].shape}, model expects {tuple(var.shape)}")
            var.assign(arrays[key])
