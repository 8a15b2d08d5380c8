"""The Ranker contract: score many candidates for one listener in one call.

A ranking model (``BaselineRanker`` and every later ranker) provides ``heads`` (the
head names, e.g. ``("complete_play", "heart", "skip")``) and

- ``listener_part(listener_features) -> L``: the per-request work over the user and
  context features (each (1,) at serving, (B,) in training; behaviour sequences (1, T)
  / (B, T)); ``L`` (a tensor or a tuple / dict of tensors) has leading dimension 1 or B;
- ``candidate_logits(L, candidate_features) -> {head: (N,) logits}``: the
  per-candidate work over the candidate features (each (N,)); a leading dimension of 1
  in ``L`` broadcasts to the N candidates.

``export_ranker(model, spec, out_dir)`` writes an artifact folder::

    saved_model/       TF SavedModel with two signatures (loadable without the Python
                       class: ``tf.saved_model.load``):
                       serving_default: listener features (1,) (sequences (1, T))
                                        + candidate features (N,) -> {head: (N,)
                                        probabilities}
                       score_rows:      every feature (B,) (sequences (B, T)), one
                                        listener per row -> {head: (B,) probabilities}
                                        (offline evaluation)
    feature_spec.json  the fitted FeatureSpec (vocabularies, statistics)
    ranker.json        model name, heads, listener / candidate feature names and dtypes,
                       free-form info (training config, data window)
    smoke.npz          one example request and the probabilities the model gave it
                       (no pickles: strings are stored as fixed-width unicode)

``Ranker.load(dir)`` wraps it: ``score(user_features, candidate_features)`` returns
head -> (N,) float32 probabilities; ``smoke_test()`` re-scores the stored example (the
registry's smoke test for a server's hot swap).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from encore.ranking.features import FeatureSpec, coerce
from encore.ranking.inputs import RankingInputError

SAVED_MODEL = "saved_model"
INFO_FILE = "ranker.json"
SMOKE_FILE = "smoke.npz"
FORMAT = 1
ROW_CHUNK = 65_536
SEQUENCE_ROW_CHUNK = 4_096  # rows per call when every row carries (T, ...) sequences


def _tf_dtype(dtype: str):
    import tensorflow as tf

    return {"int64": tf.int64, "float32": tf.float32, "string": tf.string}[dtype]


def export_ranker(model: Any, spec: FeatureSpec, out_dir: str | Path, *, model_name: str,
                  example: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None = None,
                  info: Mapping[str, Any] | None = None) -> Path:
    """Write the artifact folder (see the module docstring) for ``model`` into
    ``out_dir`` (created; must not exist or be empty). ``example`` is a
    ``(listener features, candidate features)`` request stored for the smoke test."""
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    heads = tuple(model.heads)
    listener_names, candidate_names = spec.listener_names, spec.candidate_names

    def _spec(name: str, shape) -> tf.TensorSpec:
        f = spec[name]
        return tf.TensorSpec([*shape, f.length] if f.is_sequence else shape, _tf_dtype(f.dtype), name=name)

    def _score(features):
        listener = model.listener_part({n: features[n] for n in listener_names})
        logits = model.candidate_logits(listener, {n: features[n] for n in candidate_names})
        return {h: tf.sigmoid(logits[h]) for h in heads}

    serve = tf.function(_score, autograph=False).get_concrete_function(
        {**{n: _spec(n, [1]) for n in listener_names}, **{n: _spec(n, [None]) for n in candidate_names}})
    rows = tf.function(_score, autograph=False).get_concrete_function({n: _spec(n, [None]) for n in spec.names})
    module = tf.Module()
    module.model = model
    module.serve, module.score_rows = serve, rows
    tf.saved_model.save(module, str(out / SAVED_MODEL),
                        signatures={"serving_default": serve, "score_rows": rows})
    spec.save(out)
    (out / INFO_FILE).write_text(json.dumps({
        "format": FORMAT, "model": model_name, "heads": list(heads),
        "listener_features": {n: spec[n].dtype for n in listener_names},
        "candidate_features": {n: spec[n].dtype for n in candidate_names},
        "sequence_length": spec.sequence_length, "behaviours": spec.behaviours,
        "info": dict(info or {}),
    }, indent=1, sort_keys=True, default=str))
    if example is not None:
        listener = {n: coerce(spec[n], example[0][n]) for n in listener_names}
        candidates = {n: coerce(spec[n], example[1][n]) for n in candidate_names}
        scored = _score({k: tf.constant(v) for k, v in {**listener, **candidates}.items()})
        expected = {h: v.numpy().astype(np.float32) for h, v in scored.items()}
        arrays = {f"l/{k}": _storable(v) for k, v in listener.items()}
        arrays.update({f"c/{k}": _storable(v) for k, v in candidates.items()})
        arrays.update({f"p/{h}": v for h, v in expected.items()})
        np.savez(out / SMOKE_FILE, allow_pickle=False, **arrays)
    return out


def _flat_inputs(signature: Any, names: list[str]) -> list[str] | None:
    """The feature names in the order of the signature's flat inputs (its non-captured
    inputs are the features, named after them), or None when that cannot be confirmed
    (then ``score`` uses the public keyword call)."""
    try:
        inputs = [t.name.split(":")[0] for t in signature.inputs[:len(names)]]
        ok = (callable(getattr(signature, "_call_flat", None)) and sorted(inputs) == sorted(names)
              and len(signature.inputs) == len(names) + len(signature.captured_inputs))
    except Exception:  # noqa: BLE001 - anything unexpected: the public call
        return None
    return inputs if ok else None


def _storable(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    return arr.astype(str) if arr.dtype == object else arr


class Ranker:
    """A loaded ranker artifact (no Python model class needed)."""

    def __init__(self, path: Path, loaded: Any, spec: FeatureSpec, info: dict[str, Any]) -> None:
        self.path, self._loaded, self.spec, self.info = path, loaded, spec, info
        self.heads: tuple[str, ...] = tuple(info["heads"])
        self.model_name: str = info["model"]
        self._serve = loaded.signatures["serving_default"]
        self._rows = loaded.signatures["score_rows"]
        self._flat_names = _flat_inputs(self._serve, [*spec.listener_names, *spec.candidate_names])

    @classmethod
    def load(cls, path: str | Path) -> "Ranker":
        import tensorflow as tf

        path = Path(path)
        info = json.loads((path / INFO_FILE).read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"{path / INFO_FILE}: unsupported ranker format {info.get('format')!r}")
        return cls(path, tf.saved_model.load(str(path / SAVED_MODEL)), FeatureSpec.load(path), info)

    def _tensors(self, names, given: Mapping[str, Any], what: str) -> dict[str, np.ndarray]:
        missing = [n for n in names if n not in given]
        if missing:
            raise RankingInputError(f"{what} features missing: {missing}")
        return {n: coerce(self.spec[n], given[n]) for n in names}

    def score(self, user_features: Mapping[str, Any], candidate_features: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Probabilities per head, each (N,) float32, for N candidates of one listener.

        ``user_features``: the spec's user and context features, each a scalar or a
        (1,) array (``inputs.request_features`` builds them); ``candidate_features``:
        the candidate features, each (N,). N = 0 gives empty arrays.
        """
        import tensorflow as tf

        listener = self._tensors(self.spec.listener_names, user_features, "listener")
        bad = [n for n, v in listener.items() if v.shape != ((1, self.spec[n].length) if self.spec[n].is_sequence
                                                              else (1,))]
        if bad:
            raise RankingInputError(f"listener features must hold one value each; {bad} do not")
        cands = self._tensors(self.spec.candidate_names, candidate_features, "candidate")
        sizes = {len(v) for v in cands.values()}
        if len(sizes) > 1:
            raise RankingInputError(f"candidate features differ in length: {sorted(sizes)}")
        n = sizes.pop() if sizes else 0
        if n == 0:
            return {h: np.zeros(0, np.float32) for h in self.heads}
        given = {**listener, **cands}
        out = None
        if self._flat_names is not None:
            try:  # the signature's flat call: skips ~1 ms of per-call argument binding
                out = self._serve._call_flat([tf.constant(given[n]) for n in self._flat_names],
                                             self._serve.captured_inputs)
            except Exception:  # noqa: BLE001 - a TensorFlow without it: the public call from now on
                self._flat_names = None
        if out is None:
            out = self._serve(**{k: tf.constant(v) for k, v in given.items()})
        return {h: out[h].numpy().astype(np.float32) for h in self.heads}

    def score_rows(self, features: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Probabilities per head, each (B,), for B rows with their own listener."""
        import tensorflow as tf

        rows = self._tensors(self.spec.names, features, "row")
        n = len(next(iter(rows.values())))
        parts: dict[str, list[np.ndarray]] = {h: [] for h in self.heads}
        chunk = SEQUENCE_ROW_CHUNK if self.spec.sequence_names else ROW_CHUNK
        for start in range(0, n, chunk):
            out = self._rows(**{k: tf.constant(v[start:start + chunk]) for k, v in rows.items()})
            for h in self.heads:
                parts[h].append(out[h].numpy())
        return {h: (np.concatenate(p) if p else np.zeros(0)).astype(np.float32) for h, p in parts.items()}

    def smoke_test(self, atol: float = 1e-5) -> bool:
        """Re-score the example stored at export; raise if the scores moved or are not
        probabilities (a broken or mismatched artifact). True when it passes."""
        path = self.path / SMOKE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the artifact has no smoke example")
        with np.load(path, allow_pickle=False) as data:
            listener = {k[2:]: data[k] for k in data.files if k.startswith("l/")}
            cands = {k[2:]: data[k] for k in data.files if k.startswith("c/")}
            expected = {k[2:]: data[k] for k in data.files if k.startswith("p/")}
        got = self.score(listener, cands)
        for h, want in expected.items():
            if not np.all((got[h] >= 0) & (got[h] <= 1)):
                raise ValueError(f"smoke test: head {h} gave values outside [0, 1]")
            if not np.allclose(got[h], want, atol=atol):
                raise ValueError(f"smoke test: head {h} scores differ from the exported ones "
                                 f"(max diff {np.max(np.abs(got[h] - want)):.2e})")
        return True
