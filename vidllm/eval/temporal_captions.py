"""Language scores of dense captions (E.T. Bench DVC and SLC): METEOR, ROUGE-L and CIDEr from
``pycocoevalcap`` (the COCO caption evaluation code E.T. Bench's scorer calls), on captions
tokenized by its Stanford PTB tokenizer, scored per video as the official ``DVCEval`` does (so
CIDEr's document frequencies come from one video's references).

pycocoevalcap runs Java for the tokenizer and METEOR (``meteor-1.5.jar`` ships inside the wheel);
without Java or the package, ``CaptionScorer()`` raises ``MissingDependencyError`` and the caller
reports the detection F1 and SentSim alone.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from vidllm.errors import MissingDependencyError

LANGUAGE_METRICS = ("METEOR", "ROUGE_L", "CIDEr")


def ascii_only(text: str) -> str:
    """DVCEval's ``remove_nonascii``: every non-ASCII character becomes a space."""
    return "".join(c if ord(c) < 128 else " " for c in text)


class CaptionScorer:
    """pycocoevalcap's PTB tokenizer and its METEOR, ROUGE-L and CIDEr scorers; one METEOR Java
    process for the scorer's life (``close()`` ends it)."""

    def __init__(self) -> None:
        if shutil.which("java") is None:
            raise MissingDependencyError("METEOR and the PTB tokenizer need Java: install a JRE "
                                         "(apt-get install default-jre-headless)")
        try:
            from pycocoevalcap.cider.cider import Cider
            from pycocoevalcap.rouge.rouge import Rouge
            from pycocoevalcap.tokenizer import ptbtokenizer
        except ImportError as exc:
            raise MissingDependencyError(f"captioning scores need pycocoevalcap ({exc}): pip install 'vidllm[eval]'") from None
        self._ptb_jar = Path(ptbtokenizer.__file__).parent / ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR
        self._punctuation = frozenset(ptbtokenizer.PUNCTUATIONS)
        self._rouge, self._cider = Rouge(), Cider()
        self._meteor = None

    def tokenize(self, texts: Iterable[str]) -> dict[str, str]:
        """Each distinct text -> its PTB tokens, lower-cased, punctuation dropped: the command and
        the punctuation list of pycocoevalcap's ``PTBTokenizer``, run here so that Java's progress
        line stays off the terminal and the temporary file goes to the temp folder, not into
        site-packages. One Java call; one line per text, so a text's tokens do not depend on the others."""
        unique = sorted({t for t in texts})
        if not unique:
            return {}
        with tempfile.TemporaryDirectory() as folder:
            lines = Path(folder) / "captions.txt"
            lines.write_text("\n".join(t.replace("\n", " ") for t in unique), encoding="utf-8")
            cmd = ["java", "-cp", str(self._ptb_jar), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines",
                   "-lowerCase", str(lines)]
            done = subprocess.run(cmd, capture_output=True, timeout=600)
        if done.returncode != 0:
            raise MissingDependencyError(f"the PTB tokenizer failed (java exit {done.returncode}): "
                                         f"{done.stderr.decode(errors='replace').strip()[-200:]}")
        out = done.stdout.decode("utf-8").split("\n")
        return {t: " ".join(w for w in line.rstrip().split(" ") if w not in self._punctuation) for t, line in zip(unique, out)}

    def score_groups(self, groups: Sequence[Sequence[tuple[str, str]]]) -> dict[str, float]:
        """Mean over groups (videos) of each scorer's score of that group's (caption, reference)
        pairs, already tokenized; an empty group scores 0, as in DVCEval."""
        totals = dict.fromkeys(LANGUAGE_METRICS, 0.0)
        for pairs in groups:
            if not pairs:
                continue
            res = {i: [caption] for i, (caption, _) in enumerate(pairs)}
            gts = {i: [reference] for i, (_, reference) in enumerate(pairs)}
            totals["METEOR"] += float(self._meteor_scorer().compute_score(gts, res)[0])
            totals["ROUGE_L"] += float(self._rouge.compute_score(gts, res)[0])
            totals["CIDEr"] += float(self._cider.compute_score(gts, res)[0])
        return {k: v / len(groups) if groups else 0.0 for k, v in totals.items()}

    def _meteor_scorer(self):
        if self._meteor is None:
            from pycocoevalcap.meteor.meteor import Meteor

            self._meteor = Meteor()
        return self._meteor

    def close(self) -> None:
        meteor, self._meteor = self._meteor, None
        if meteor is not None:
            with meteor.lock:   # Meteor.__del__ takes the same lock, then finds the process ended
                meteor.meteor_p.stdin.close()
                meteor.meteor_p.kill()
                meteor.meteor_p.wait()

    def __enter__(self) -> CaptionScorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
