"""Word error rate of the two local speech models, faster-whisper ``tiny.en`` and ``base``.

Speech: sentences with numbers and times ("the last train leaves at seven") spoken by
espeak-ng in several voices and speeds, and any real recorded speech with a known transcript
that ships in an installed package (none was found in this environment: the package-shipped
clips have music or no sound, and the .wav files of scipy's tests are tones; the script says
so when it finds none). Both models run exactly as the ``speech`` tool runs them
(``SpeechTool(model=...).transcribe``, default settings).

Before scoring, reference and hypothesis are normalised alike: lower case, punctuation
dropped, numbers written as words ("9" -> "nine", "10:30" -> "ten thirty"), so a model is not
charged for writing digits. WER is ``jiwer``'s (substitutions + deletions + insertions over
reference words). "key right" is the share of sentences whose number or time word (the fact a
question would ask for) is in the transcript. Times are seconds of compute per second of
speech on this machine, and the ratio base / tiny in the same run.

    python benchmarks/speech_wer.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import media  # noqa: E402  (espeak-ng speech as 16 kHz samples)
import numpy as np  # noqa: E402

# (sentence, its key fact)
SENTENCES = [
    ("the last train leaves at seven", "seven"),
    ("the meeting starts at nine", "nine"),
    ("the museum opens at ten thirty on sunday", "ten thirty"),
    ("we need four hundred grams of flour and two eggs", "four hundred"),
    ("the flight to boston departs from gate twelve", "twelve"),
    ("call me back in fifteen minutes", "fifteen"),
    ("the temperature will drop to minus five tonight", "five"),
    ("please turn left at the second traffic light", "second"),
]
# espeak-ng voice, words a minute
VOICES = [("en-us+m3", 130), ("en", 160), ("en-gb+f3", 150)]
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")


def normalise(text: str) -> str:
    """Lower case, no punctuation, numbers as words: "At 10:30." -> "at ten thirty"."""
    from num2words import num2words

    text = re.sub(r"(?<![\w.])-(?=\d)", "minus ", text.lower()).replace("-", " ")
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b", lambda m: f"{m.group(1)} {m.group(2) if m.group(2) != '00' else ''}", text)
    text = re.sub(r"\b\d+(st|nd|rd|th)\b", lambda m: num2words(int(m.group()[:-2]), to="ordinal"), text)
    text = re.sub(r"\d+", lambda m: num2words(int(m.group())), text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return " ".join(text.split())


def real_recordings() -> list[tuple[str, Path, str]]:
    """(name, file, transcript) for recorded speech shipped with a transcript in installed
    packages: an audio file beside a .txt of the same stem. None is known here."""
    import sysconfig

    found = []
    for path in Path(sysconfig.get_paths()["purelib"]).rglob("*"):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.with_suffix(".txt").exists():
            found.append((path.name, path, path.with_suffix(".txt").read_text().strip()))
    return found


def espeak(sentence: str, voice: str, speed: int) -> np.ndarray:
    import io
    import subprocess

    import av

    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", sentence],
                         check=True, capture_output=True).stdout
    with av.open(io.BytesIO(wav)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [o.to_ndarray().reshape(-1) for f in container.decode(audio=0) for o in resampler.resample(f)]
        chunks += [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]
    speech = np.concatenate(chunks).astype(np.float32)
    pad = np.zeros(8000, np.float32)  # half a second of silence either side, as in a clip
    return np.concatenate([pad, speech, pad])


# the cold-analysis target of issue 13: 20 s of compute per minute of video, all tools together
COLD_TARGET = 20.0 / 60.0


def recommend(rows: dict[str, list[dict]]) -> None:
    """The default the numbers support: base where it is more accurate and still fits the cold
    analysis target on this machine, else tiny.en."""
    import jiwer

    figures = {}
    for model, results in rows.items():
        wer = jiwer.wer([r["reference"] for r in results], [r["heard"] or "<silence>" for r in results])
        keyed = [r for r in results if r["key"]]
        key = np.mean([f" {normalise(r['key'])} " in f" {r['heard']} " for r in keyed]) if keyed else float("nan")
        speed = sum(r["compute"] for r in results) / sum(r["audio"] for r in results)
        figures[model] = (wer, key, speed)
    (tiny_wer, tiny_key, tiny_speed), (base_wer, base_key, base_speed) = figures["tiny.en"], figures["base"]
    print(f"\nbase / tiny.en in this run: WER {base_wer / max(tiny_wer, 1e-9):.2f}x, key facts {base_key:.0%} vs "
          f"{tiny_key:.0%}, compute {base_speed / tiny_speed:.1f}x ({base_speed * 60:.0f} vs {tiny_speed * 60:.0f} s "
          f"per minute of speech; the cold target is {COLD_TARGET * 60:.0f} s per minute for all tools)")
    if base_wer < tiny_wer and base_speed <= COLD_TARGET:
        print("recommendation: make base the default (more accurate and within the cold-analysis target here)")
    elif base_wer < tiny_wer:
        print("recommendation: keep tiny.en the default (base is more accurate but too slow for the cold-analysis "
              "target on this machine); choose base (the timeline model's tool_options {'speech': {'model': 'base'}}) where accuracy matters more than time")
    else:
        print("recommendation: keep tiny.en the default (base is no more accurate here)")


def main() -> int:
    import jiwer

    from vidllm.perceive.tools.speech import SpeechTool
    from vidllm.video.audio import extract_audio

    samples: list[tuple[str, np.ndarray, str, str | None]] = []  # (source, audio, reference, key)
    if media.espeak_available():
        for voice, speed in VOICES:
            for sentence, key in SENTENCES:
                samples.append((f"espeak {voice}", espeak(sentence, voice, speed), sentence, key))
    else:
        print("espeak-ng is not installed (apt-get install espeak-ng): no synthetic voices")
    recordings = real_recordings()
    if not recordings:
        print("real recorded speech with a transcript: none ships in the installed packages "
              "(searched site-packages for audio files beside a transcript)")
    for name, path, transcript in recordings:
        samples.append((f"real {name}", extract_audio(str(path)).samples, transcript, None))
    if not samples:
        print("nothing to transcribe")
        return 1

    rows = {}
    for model in ("tiny.en", "base"):
        tool = SpeechTool(model=model)
        try:
            tool.check_available()
        except Exception as exc:  # the optional multilingual model may be missing
            print(f"{model}: not available ({exc})")
            continue
        tool.transcribe(samples[0][1])  # load the model outside the timing
        for source, audio, reference, key in samples:
            began = time.perf_counter()
            said = " ".join(o.text for o in tool.transcribe(audio))
            seconds = time.perf_counter() - began
            rows.setdefault(model, []).append({"source": source, "reference": normalise(reference),
                                               "heard": normalise(said), "raw": said, "key": key,
                                               "compute": seconds, "audio": len(audio) / 16000})

    print(f"\n{'model':<8} {'source':<17} {'utterances':>10} {'WER':>6} {'key right':>9} {'s / s speech':>12}")
    for model, results in rows.items():
        for source in dict.fromkeys(r["source"] for r in results):
            chosen = [r for r in results if r["source"] == source]
            wer = jiwer.wer([r["reference"] for r in chosen], [r["heard"] or "<silence>" for r in chosen])
            keyed = [r for r in chosen if r["key"]]
            key_right = np.mean([f" {normalise(r['key'])} " in f" {r['heard']} " for r in keyed]) if keyed else float("nan")
            speed = sum(r["compute"] for r in chosen) / sum(r["audio"] for r in chosen)
            print(f"{model:<8} {source:<17} {len(chosen):>10} {wer:>6.1%} {key_right:>9.0%} {speed:>12.3f}")
        wer = jiwer.wer([r["reference"] for r in results], [r["heard"] or "<silence>" for r in results])
        speed = sum(r["compute"] for r in results) / sum(r["audio"] for r in results)
        print(f"{model:<8} {'all':<17} {len(results):>10} {wer:>6.1%} {'':>9} {speed:>12.3f}")
    if len(rows) == 2:
        recommend(rows)
    print("\nmisheard (model: reference -> heard):")
    for model, results in rows.items():
        for r in results:
            if r["reference"] != r["heard"]:
                print(f"  {model:<7} {r['source']:<17} {r['reference']!r} -> {r['raw']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
