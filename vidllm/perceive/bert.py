"""A BERT encoder in plain numpy, for small sentence-embedding models such as all-MiniLM-L6-v2.

Written for inference only, from the architecture of Devlin et al. (2019) as Hugging Face
``BertModel`` lays out its weights (``embeddings.*``, ``encoder.layer.N.*``), read from a
``.safetensors`` file with ``safetensors.numpy``: no torch, nothing but numpy at run time.
A six-layer, 384-wide model is a few dozen matrix products per batch, which numpy's BLAS
does about as fast as torch on a CPU, and loading takes a fraction of a second instead of
the seconds torch's import alone takes.

Each layer: self-attention (query, key and value projected at once, one softmax per head,
padding masked out), a residual and LayerNorm, then a GELU feed-forward block, a residual
and LayerNorm. Padding never changes the states of real tokens, so a sentence gets the same
vector whatever it is batched with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_SQRT_HALF = np.float32(np.sqrt(0.5))


def _erf_abs(a: np.ndarray) -> np.ndarray:
    """erf(a) for a >= 0, in place on ``a`` (Abramowitz and Stegun 7.1.26: within 1.5e-7)."""
    t = 1.0 + 0.3275911 * a
    np.reciprocal(t, out=t)
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)  # exp(-a^2)
    poly = 1.061405429 * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return poly


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, float32 (within 1.5e-7 plus float32 rounding): numpy has none,
    and BERT's GELU is defined with it.

    >>> import math
    >>> xs = np.linspace(-4, 4, 801, dtype=np.float32)
    >>> float(np.abs(erf(xs) - np.array([math.erf(v) for v in xs])).max()) < 1e-6
    True
    """
    x = np.asarray(x, dtype=np.float32)
    return np.copysign(_erf_abs(np.abs(x)), x)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact error function (BERT's ``hidden_act: "gelu"``), 0.5 x (1 + erf(x/√2)).

    >>> [round(float(v), 4) for v in gelu(np.array([-1.0, 0.0, 2.0], dtype=np.float32))]
    [-0.1587, 0.0, 1.9545]
    """
    e = np.copysign(_erf_abs(np.abs(x) * _SQRT_HALF), x)
    e += 1.0
    e *= x
    e *= 0.5
    return e


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query, key, value side by side, transposed
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class BertEncoder:
    """Token ids (batch, length) and an attention mask -> hidden states (batch, length, hidden).

    ``config`` is the model's ``config.json`` (hidden size, heads, layers, LayerNorm epsilon,
    activation); ``tensors`` its weights by name. Only absolute position embeddings and the
    exact GELU are implemented; any other setting is refused at construction.
    """

    def __init__(self, config: dict, tensors: dict[str, np.ndarray]):
        if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"unsupported BERT variant: hidden_act={config.get('hidden_act')!r}, "
                             f"position_embedding_type={config.get('position_embedding_type')!r}")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config.get("max_position_embeddings", 512))

        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(tensors[name], dtype=np.float32)

        def linear(prefix: str) -> tuple[np.ndarray, np.ndarray]:  # stored (out, in): keep (in, out)
            return np.ascontiguousarray(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")
        self.ln_w, self.ln_b = get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")
        self.layers = []
        for n in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{n}"
            parts = [linear(f"{p}.attention.self.{name}") for name in ("query", "key", "value")]
            self.layers.append(_Layer(
                np.ascontiguousarray(np.concatenate([w for w, _ in parts], axis=1)),
                np.concatenate([b for _, b in parts]),
                *linear(f"{p}.attention.output.dense"),
                get(f"{p}.attention.output.LayerNorm.weight"), get(f"{p}.attention.output.LayerNorm.bias"),
                *linear(f"{p}.intermediate.dense"),
                *linear(f"{p}.output.dense"),
                get(f"{p}.output.LayerNorm.weight"), get(f"{p}.output.LayerNorm.bias"),
            ))

    @classmethod
    def load(cls, folder: str | Path) -> BertEncoder:
        """The encoder in ``folder`` (``config.json`` and ``model.safetensors``)."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        return cls(config, load_file(str(folder / "model.safetensors")))

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        if length > self.max_positions:
            raise ValueError(f"{length} tokens is more than the model's {self.max_positions} positions")
        x = self.word[ids] + self.position[:length] + self.token_type[0]
        # 2-D (tokens, hidden) for every projection: one BLAS call each (numpy loops over
        # the leading axis of a 3-D @ 2-D product, about 20x slower here)
        x = layer_norm(x.reshape(batch * length, self.hidden), self.ln_w, self.ln_b, self.eps)
        # padded keys get a large negative score: after the softmax they weigh nothing
        blocked = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        head = self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (tokens, 3 * hidden)
            qkv = qkv.reshape(batch, length, 3, self.heads, head).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, length, head)
            scores = (q * scale) @ k.transpose(0, 1, 3, 2) + blocked
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.hidden)
            x = layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            inner = gelu(x @ layer.up_w + layer.up_b)
            x = layer_norm(inner @ layer.down_w + layer.down_b + x, layer.ln2_w, layer.ln2_b, self.eps)
        return x.reshape(batch, length, self.hidden)
