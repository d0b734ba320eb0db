"""Property tests (hypothesis) for everything that reads text written by others: model replies
(option letters, yes/no, counts, ratings, captions, times) and benchmark annotation files.

Two kinds of property: on *any* input the reader returns a value of its documented type or
raises the documented ``VidllmError``, never anything else; and where a reader has a writer's
form (a letter, a clock time, a range, a count), what is written is read back unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from vidllm.choices import (
    LETTERS,
    clean_reply,
    normalise_options,
    parse_choice,
    read_letter,
    split_options,
)
from vidllm.errors import SpecError, VidllmError
from vidllm.eval.parsers import (
    read_captions,
    read_count,
    read_rating,
    read_yes_no,
    robust,
)
from vidllm.eval.types import KINDS, EvalSample
from vidllm.timeparse import FAILURES, find_point, find_spans, read_times, to_seconds

# Replies as models write them: any unicode, plus the words and marks the readers look for.
WORDS = ["answer", "Answer:", "option", "final answer is", "<think>", "</think>", "<answer>", "</answer>",
         "not", "I pick", "between", "and", "to", "from", "start", "end", "seconds", "s", "min", "frame",
         "yes", "no", "(A)", "B.", "C)", "[D]", "1:05", "00:01:02,500", "12.5", "-", "–", "/5", "\n"]
replies = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(string.ascii_letters + string.digits + " .:,()[]-", max_size=8)),
             max_size=30).map(" ".join),
)
option_texts = st.lists(st.text(max_size=40), max_size=10).map(tuple)
fps_values = st.one_of(st.none(), st.floats(min_value=0.001, max_value=1000), st.just(0.0))

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- option letters -------------------------------------------------------------------------------


@PROPS
@given(replies, option_texts)
def test_read_letter_returns_one_of_the_letters_or_none(reply, options):
    letter = read_letter(reply, options)
    allowed = LETTERS[: len(options)] if options else "ABCD"
    assert letter is None or letter in allowed


@PROPS
@given(replies, st.lists(st.sampled_from(list(LETTERS)), min_size=1, max_size=10, unique=True), st.data())
def test_parse_choice_picks_among_the_given_letters(reply, letters, data):
    texts = data.draw(st.one_of(st.none(), st.lists(st.text(max_size=20), min_size=len(letters), max_size=len(letters))))
    assert parse_choice(reply, letters, texts) in (None, *letters)


@PROPS
@given(replies)
def test_clean_reply_is_text_and_idempotent_on_plain_text(reply):
    cleaned = clean_reply(reply)
    assert isinstance(cleaned, str)


@PROPS
@given(st.integers(0, 9), st.integers(2, 10), st.sampled_from(["{}", "({})", "{}.", "Answer: {}", "The answer is ({}).",
                                                                "<think>maybe A</think> {}", "Final Answer: {}"]))
def test_a_letter_written_plainly_is_read_back(index, count, form):
    assume(index < count)
    letter = LETTERS[index]
    assert read_letter(form.format(letter), tuple(f"option {i}" for i in range(count))) == letter


@PROPS
@given(st.text())
def test_split_options_never_fails(question):
    rest, options = split_options(question)
    assert isinstance(rest, str) and all(letter in LETTERS for letter, _ in options)


lower_words = st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=8), min_size=1, max_size=5).map(" ".join)


@PROPS
@given(lower_words, st.lists(lower_words, min_size=2, max_size=10))
def test_options_written_into_a_question_split_back_out(question, texts):
    written = question + "? " + " ".join(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts))
    rest, options = split_options(written)
    assert rest == question + "?"
    assert options == [(LETTERS[i], t) for i, t in enumerate(texts)]


@PROPS
@given(st.lists(st.text(max_size=30), max_size=10))
def test_normalise_options_returns_pairs_or_refuses_repeated_letters(options):
    try:
        pairs = normalise_options(options)
    except SpecError:
        return
    assert len(pairs) == len(options) and len({letter for letter, _ in pairs}) == len(pairs)


def test_eleven_options_are_refused_in_one_line():
    with pytest.raises(SpecError):
        normalise_options([""] * 11)


# -- times ----------------------------------------------------------------------------------------


@PROPS
@given(replies, fps_values)
def test_read_times_on_any_text(text, fps):
    reading = read_times(text, fps=fps)
    assert reading.failure is None or reading.failure in FAILURES
    assert all(start <= end for start, end in reading.spans)
    assert (reading.failure is None) == bool(reading.spans)
    find_spans(text, fps=fps)
    point = find_point(text, fps=fps)
    assert point is None or isinstance(point, float)


def clock(seconds: int) -> str:
    minutes, s = divmod(seconds, 60)
    return f"{minutes}:{s:02d}"


@PROPS
@given(st.integers(0, 5999))
def test_clock_times_round_trip(seconds):
    assert to_seconds(clock(seconds)) == seconds
    assert find_point(f"It happens at {clock(seconds)}.") == seconds


@PROPS
@given(st.integers(0, 5000), st.integers(1, 900),
       st.sampled_from(["from {} to {}", "between {} and {}", "{} - {}", "[{}, {}]", "{}–{}"]))
def test_ranges_round_trip(start, length, form):
    end = start + length
    assert find_spans("The event is " + form.format(clock(start), clock(end)) + ".") == [(start, end)]


@PROPS
@given(st.decimals(min_value=0, max_value=10000, places=2, allow_nan=False, allow_infinity=False),
       st.decimals(min_value="0.01", max_value=600, places=2, allow_nan=False, allow_infinity=False))
def test_second_ranges_round_trip(start, length):
    end = start + length
    spans = find_spans(f"from {start} to {end} seconds")
    assert spans == [(float(start), float(end))]


# -- the other reply readers ----------------------------------------------------------------------


@PROPS
@given(replies)
def test_generic_readers_on_any_text(text):
    assert read_yes_no(text) in (None, "Yes", "No")
    count = read_count(text)
    assert count is None or (isinstance(count, int) and count >= 0)
    rating = read_rating(text, (1, 10))
    assert rating is None or 1 <= rating <= 10
    captions = read_captions(text)
    assert captions is None or all(s[0] <= s[1] and isinstance(c, str) for s, c in captions)


@PROPS
@given(st.integers(0, 10**6))
def test_counts_round_trip(n):
    assert read_count(str(n)) == n
    assert read_count(f"I counted {n} times.") == n


@PROPS
@given(st.integers(1, 5), st.sampled_from(["{}/5", "Score: {}", "I'd rate it {}"]))
def test_ratings_round_trip(k, form):
    assert read_rating(form.format(k)) == k


@PROPS
@given(st.sampled_from(KINDS), replies, option_texts)
def test_robust_reads_any_reply_for_every_kind(kind, text, options):
    sample = EvalSample(doc_id="d", benchmark="fuzz", task="t", video="v.mp4", video_path="", question="?",
                        target=None, kind=kind, prompt="?", options=options)
    robust(sample, text)


# -- benchmark annotation files -------------------------------------------------------------------

SHARED = [Path(os.environ["VIDLLM_SHARED_DIR"]) / "benchmarks"] if os.environ.get("VIDLLM_SHARED_DIR") else []
SHARED.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks")
FOLDERS = {"mlvu": "mlvu", "ovobench": "ovo_bench", "vau": "vau_bench", "videoreasonbench": "videoreasonbench",
           "videobench": "video_bench", "videomme": "video_mme"}
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


def shared_root() -> Path | None:
    return next((p.resolve() for p in SHARED if (p / "README.md").exists()), None)


def shrink(value, keep: int = 3):
    """The first few entries of every list and mapping: a small file with the real shape."""
    if isinstance(value, list):
        return [shrink(v, keep) for v in value[:keep]]
    if isinstance(value, dict):
        items = list(value.items())
        # a mapping of many records (id -> record) is cut like a list; a record keeps its fields
        many = len(items) > 20 and all(isinstance(v, (dict, list)) for _, v in items)
        return {k: shrink(v, keep) for k, v in (items[:keep] if many else items)}
    return value


def mutate(value, data):
    """Replace one value somewhere in ``value``, or drop one key, as hypothesis chooses."""
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        value[i] = mutate(value[i], data)
        return value
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value, key=str)))
        action = data.draw(st.sampled_from(["descend", "replace", "drop"]))
        if action == "drop":
            del value[key]
        elif action == "replace":
            value[key] = data.draw(json_values)
        else:
            value[key] = mutate(value[key], data)
        return value
    return data.draw(json_values)


def fuzz_folder(source: Path, files: list[Path], target: Path, data) -> None:
    """A copy of the benchmark folder's annotation files, cut small, with a few values changed."""
    for path in files:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))[:4]
            for _ in range(data.draw(st.integers(1, 4))):
                if rows:
                    row = data.draw(st.sampled_from(rows))
                    column = data.draw(st.sampled_from(sorted(row)))
                    row[column] = data.draw(st.one_of(st.text(max_size=20), st.just(""), st.sampled_from(["nan", "-1", "1e309"])))
            buffer = io.StringIO()
            if rows:
                writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            out.write_text(buffer.getvalue(), encoding="utf-8")
            continue
        try:
            value = shrink(json.loads(path.read_text(encoding="utf-8")))
        except ValueError:  # a file the benchmark publishes as not-quite-JSON: cut its bytes
            raw = path.read_bytes()
            cut = data.draw(st.integers(0, len(raw)))
            out.write_bytes(raw[:cut])
            continue
        for _ in range(data.draw(st.integers(1, 4))):
            value = mutate(value, data)
        out.write_text(json.dumps(value), encoding="utf-8")


# Loaders that fail on fuzzed files with something other than BenchmarkDataError (found by the
# test below, deterministic under derandomize): bugs in files this suite does not own.


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_benchmark_loaders_on_fuzzed_rows(name, tmp_path):
    from vidllm.eval.benchmarks import load_benchmark

    root = shared_root()
    if root is None:
        pytest.skip("the real annotation files are not here (../shared/benchmarks)")
    source = root / FOLDERS[name]
    files = load_benchmark(name, source).annotation_files()

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate],
              database=None, derandomize=True)
    @given(st.data())
    def loads_or_refuses(data):
        target = tmp_path / "fuzzed"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        fuzz_folder(source, files, target, data)
        try:
            load_benchmark(name, target).load(require_videos=False)
        except VidllmError:
            pass  # the documented refusal: one line naming the file and the problem

    loads_or_refuses()
