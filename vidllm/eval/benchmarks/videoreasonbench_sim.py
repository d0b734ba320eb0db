"""VideoReasonBench ``prediction_operation`` items (a helper of ``vidllm.eval.benchmarks.
videoreasonbench``): replay the moves a model proposes and check that they reach the target state
the question asks for.

These items have no reference answer; the official scorer (llyx97/video_reason_bench
utils/eval_utils.py ``eval_op_*``) asks an LLM to list the moves, then simulates them. The
simulation rules below are the official ones, quirks included (an out-of-bounds slide is skipped,
not an error; "left" in the sliding puzzle moves the tile left, i.e. the gap right; a swap naming a
cell off the board changes nothing). ``extract_moves`` is a deterministic replacement for the
LLM extraction step, used when no judge model is given.

>>> hrd_reaches([[1, 2], [3, 0]], ["right"], [[1, 2], [0, 3]])
True
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

KINDS = ("card", "chip", "cup", "file_sys", "grid", "hrd")
CARD_NAMES = {f"{v} of {s}" for v in ["Ace", *map(str, range(2, 11)), "Jack", "Queen", "King"] for s in ("Hearts", "Clubs", "Diamonds", "Spades")}
CHIP_VALUES = (5, 10, 20, 50, 100)
_COORD = {c: i for i, c in enumerate("abcde")} | {str(i + 1): i for i in range(5)}


def source_index(visible_time: str) -> int:
    """The state the moves start from, as the official scorer picks it (states[0] when the video
    shows its end, else the last state)."""
    return 0 if visible_time == "end" else -1


# ------------------------------------------------------------------------------- targets


def _grab(pattern: str, question: str, what: str) -> str:
    m = re.search(pattern, question)
    if not m:
        raise ValueError(f"no {what} found in the question")
    return m.group(1)


def target_hrd(question: str) -> list[list[int]]:
    rows, cols = (int(x) for x in re.search(r"on a (\d+)x(\d+) board", question).groups())
    board = [[0] * cols for _ in range(rows)]
    letter_row = {c: rows - 1 - i for i, c in enumerate("abcde")}
    for item in _grab(r"the desired number arrangement:\s*`([^`]+)`", question, "target board").split(", "):
        coord, num = item.split(": ")
        r, c = coord.strip("()").split(",")
        board[letter_row[r]][_COORD[c]] = int(num)
    return board


def target_grid(question: str) -> list[list[int]]:
    rows, cols = (int(x) for x in re.search(r"presents a (\d+)x(\d+) grid", question).groups())
    board = [[0] * cols for _ in range(rows)]
    digit = {str(i): i for i in range(5)}
    for item in _grab(r"the desired arrangement of black and white pieces:\s*`([^`]+)`", question, "target").split(", "):
        coord, colour = item.split(": ")
        r, c = coord.strip("()").split(",")
        board[_COORD[r]][digit[c]] = 1 if colour == "black" else 0
    return board


def target_cup(question: str) -> list[list[int]]:
    rows, cols = (int(x) for x in re.search(r"puzzle on a (\d+)x(\d+) board", question).groups())
    board = [[0] * cols for _ in range(rows)]
    for coord in _grab(r"achieve the desired distribution of coins:\s*`([^`]+)`", question, "target").split(", "):
        board[_COORD[coord[0]]][_COORD[coord[1]]] = 1
    return board


def target_files(question: str) -> tuple[str, set[str]]:
    files = set(_grab(r"contains exactly the following files:\s*`([^`]+)`", question, "target files").split(", "))
    return _grab(r"to ensure that\s*`([^`]+)` contains exactly", question, "path"), files


def target_cards(question: str) -> tuple[str, list[str]]:
    cards = _grab(r"contains exactly the following cards from top to bottom:\s*`([^`]+)`", question, "cards").split(", ")
    return _grab(r"to ensure that\s*`([^`]+)` contains exactly", question, "pile"), cards


def target_chips(question: str) -> tuple[str, list[int]]:
    chips = [int(c) for c in _grab(r"contains exactly the following chips:\s*`([^`]+)`", question, "chips").split(", ")]
    return _grab(r"to ensure that\s*`([^`]+)` contains exactly", question, "cup"), chips


# ------------------------------------------------------------------------------- simulation


def hrd_reaches(board, moves: Sequence[str], target) -> bool:
    """Sliding puzzle: each move slides the tile next to the gap into it; invalid moves are skipped."""
    board = copy.deepcopy(board)
    n = len(board)
    for move in moves:
        bi, bj = next((i, j) for i in range(n) for j in range(n) if board[i][j] == 0)
        ti, tj = {"up": (bi - 1, bj), "down": (bi + 1, bj), "left": (bi, bj + 1), "right": (bi, bj - 1)}.get(move, (-1, -1))
        if not (0 <= ti < n and 0 <= tj < n):
            continue
        board[bi][bj], board[ti][tj] = board[ti][tj], board[bi][bj]
    return board == target


def grid_reaches(board, coord, moves: Sequence[str], target) -> bool:
    """Lights-out grid: the circle steps; each step flips the cell it lands on and its 4 neighbours.
    Any move other than left/right/up/down fails the item; steps off the board are skipped."""
    steps = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    if not moves or any(m not in steps for m in moves):
        return False
    board = copy.deepcopy(board)
    x, y = coord
    n = len(board)
    for move in moves:
        nx, ny = x + steps[move][0], y + steps[move][1]
        if not (0 <= nx < n and 0 <= ny < n):
            continue
        x, y = nx, ny
        for dx, dy in ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0)):
            if 0 <= x + dx < n and 0 <= y + dy < n:
                board[y + dy][x + dx] = 1 - board[y + dy][x + dx]
    return board == target


def cup_reaches(board, swaps: Sequence[Any], target) -> bool:
    """Cup swaps such as ("a1", "b2"); a swap that cannot be read or leaves the board does nothing."""
    board = copy.deepcopy(board)
    for swap in swaps:
        try:
            (r1, c1), (r2, c2) = ((_COORD.get(p[0]), _COORD.get(p[1])) for p in (swap[0], swap[1]))
            if None in (r1, c1, r2, c2):
                raise TypeError("unknown coordinate")
            board[r1][c1], board[r2][c2] = board[r2][c2], board[r1][c1]
        except (TypeError, IndexError, KeyError, ValueError):
            continue
    return board == target


def files_reach(states: Mapping[str, Sequence[str]], commands: Sequence[str], question: str, *, strict: bool = True) -> bool:
    """At most two commands, only ``touch`` and ``rm -rf`` with a {a,b} file list, no file in both.

    ``strict`` keeps the official split of "{a.txt, b.txt}" on "," alone (" b.txt" then names a
    different file); ``strict=False`` strips the spaces.
    """
    commands = [c for c in commands if c]
    if not commands or len(commands) > 2:
        return False
    touched: dict[str, set[str]] = {"rm": set(), "touch": set()}
    for cmd in commands:
        if not (cmd.startswith("rm -rf") or cmd.startswith("touch")):
            return False
        m = re.search(r"\{([^}]+)\}", cmd)
        if not m:
            return False
        files = {f if strict else f.strip() for f in m.group(1).split(",")}
        touched["rm" if cmd.startswith("rm -rf") else "touch"] = files
    if touched["rm"] & touched["touch"]:
        return False
    path, wanted = target_files(question)
    current = {p: set(files) for p, files in states.items()}
    for cmd in commands:
        files = {f if strict else f.strip() for f in re.search(r"\{([^}]+)\}", cmd).group(1).split(",")}
        paths = re.findall(r"path\d+", cmd)
        if not paths or paths[0] not in current:
            return False
        if cmd.startswith("rm"):
            current[paths[0]] -= files
        else:
            current[paths[0]] |= files
    return current.get(path) == wanted


def cards_reach(states: Mapping[str, Sequence[str]], moves: Sequence[str], question: str) -> bool:
    """Card piles: "add <card> to pileN" puts it on top; "remove <card> from pileN" must take
    the bottom card; the pile must end as the listed cards."""
    piles = {k: list(v) for k, v in states.items()}
    pile_name, wanted = target_cards(question)
    for move in moves:
        if not move.startswith(("add", "remove")) or not move.endswith(("pile0", "pile1")):
            return False
        words = move.split()
        card, pile = " ".join(words[1:-2]), words[-1]
        if card not in CARD_NAMES or pile not in piles:
            return False
        if words[0] == "add":  # "adding ..." passes the prefix test and then does nothing
            piles[pile].append(card)
        elif words[0] == "remove":
            if not piles[pile] or piles[pile][0] != card:
                return False
            piles[pile].remove(card)
    return piles.get(pile_name) == wanted


def chips_reach(states: Mapping[str, Sequence[int]], moves: Sequence[str], question: str) -> bool:
    """Chips in cups: "add 20 to cup0" / "remove 50 from cup0"; a removed chip must be there."""
    cups = {k: list(v) for k, v in states.items()}
    cup_name, wanted = target_chips(question)
    for move in moves:
        if not move.startswith(("add", "remove")) or not move.endswith(("cup0", "cup1")):
            return False
        words = move.split()
        if len(words) < 2 or not words[1].isdigit() or int(words[1]) not in CHIP_VALUES or words[-1] not in cups:
            return False
        chip = int(words[1])
        if words[0] == "add":
            cups[words[-1]].append(chip)
        elif words[0] == "remove":
            if chip not in cups[words[-1]]:
                return False
            cups[words[-1]].remove(chip)
    return Counter(cups.get(cup_name, [])) == Counter(wanted)


def check(kind: str, item: Mapping[str, Any], moves: Any, *, strict: bool = True) -> bool:
    """Whether ``moves`` (as extracted) solve the VideoReasonBench item ``item`` of ``kind``."""
    if not moves:  # the official scorer fails an empty or unreadable move list
        return False
    i = source_index(item["visible_time"])
    question = item["question"]
    n = int(item["num_state"])
    if kind == "hrd":
        return hrd_reaches(item["states"][i], [str(m).lower() for m in moves], target_hrd(question))
    if kind == "grid":
        return grid_reaches(item["states"][i], tuple(item["coords"][i]), [str(m).lower() for m in moves], target_grid(question))
    if kind == "cup":
        return cup_reaches(item["states"][i], moves, target_cup(question))
    if kind == "file_sys":
        states = {f"path{k}": list(item["states"][f"path{k}"].values())[i] for k in range(n)}
        return files_reach(states, list(moves), question, strict=strict)
    if kind == "card":
        return cards_reach({f"pile{k}": item["states"][f"pile{k}"][i] for k in range(n)}, list(moves), question)
    if kind == "chip":
        return chips_reach({f"cup{k}": item["states"][f"cup{k}"][i] for k in range(n)}, list(moves), question)
    raise ValueError(f"unknown VideoReasonBench kind {kind!r}; known: {', '.join(KINDS)}")


# ------------------------------------------------------------------------------- extraction


def extract_moves(kind: str, text: str) -> list:
    """Read the proposed moves from a reply without an LLM (vidllm's deterministic extractor)."""
    text = text or ""
    if kind in ("hrd", "grid"):
        return re.findall(r"\b(left|right|up|down)\b", text.lower())
    if kind == "cup":
        return [(a, b) for a, b in re.findall(r"\(?\s*\b([a-e][1-5])\b\s*,\s*\b([a-e][1-5])\b\s*\)?", text.lower())]
    if kind == "file_sys":
        text = text.replace("`", "").replace("bash\n", "")
        return re.findall(r"(?:touch|rm\s+-\w+)\s+path\d+/(?:\{[^}]*\}|\S+)", text)
    if kind == "card":
        found = re.findall(r"\b(add|remove)\s+(.+?)\s+(to|from)\s+(pile\d)", text, re.I)
        return [f"{a.lower()} {card.strip()} {prep.lower()} {pile}" for a, card, prep, pile in found]
    if kind == "chip":
        found = re.findall(r"\b(add|remove)\s+(\d+)\s+(?:(to|from)\s+)?(cup\d)", text, re.I)
        return [f"{a.lower()} {chip} {prep or ('to' if a.lower() == 'add' else 'from')} {cup}" for a, chip, prep, cup in found]
    raise ValueError(f"unknown VideoReasonBench kind {kind!r}")


# ------------------------------------------------------------------------------- solving


def solve(kind: str, item: Mapping[str, Any]) -> str | None:
    """A move list that solves the item, written as the question asks for it; None if none is
    found. Used by the ``oracle:`` baseline, so a perfect answer scores 100%."""
    i = source_index(item["visible_time"])
    question = item["question"]
    if kind == "hrd":
        path = _bfs(item["states"][i], target_hrd(question), _hrd_next)
        return None if path is None else ", ".join(path)
    if kind == "grid":
        start = (tuple(map(tuple, item["states"][i])), tuple(item["coords"][i]))
        goal = tuple(map(tuple, target_grid(question)))
        path = _bfs(start, goal, _grid_next, done=lambda s, g: s[0] == g)
        return None if path is None else ", ".join(path)
    if kind == "cup":
        board, goal = item["states"][i], target_cup(question)
        extra = [(r, c) for r, row in enumerate(board) for c, v in enumerate(row) if v and not goal[r][c]]
        need = [(r, c) for r, row in enumerate(goal) for c, v in enumerate(row) if v and not board[r][c]]
        name = lambda rc: "abcde"[rc[0]] + str(rc[1] + 1)  # noqa: E731
        return ", ".join(f"({name(a)}, {name(b)})" for a, b in zip(extra, need))
    if kind == "file_sys":
        path, wanted = target_files(question)
        have = set(list(item["states"][path].values())[i])
        cmds = []
        if wanted - have:
            cmds.append(f"touch {path}/{{{','.join(sorted(wanted - have))}}}")
        if have - wanted:
            cmds.append(f"rm -rf {path}/{{{','.join(sorted(have - wanted))}}}")
        return " & ".join(cmds) or None
    if kind == "card":
        pile, wanted = target_cards(question)
        have = list(item["states"][pile][i])
        k = next(k for k in range(len(have) + 1) if wanted[: len(have) - k] == have[k:])
        moves = [f"remove {c} from {pile}" for c in have[:k]] + [f"add {c} to {pile}" for c in wanted[len(have) - k :]]
        return ", ".join(moves) or None
    if kind == "chip":
        cup, wanted = target_chips(question)
        have, goal = Counter(item["states"][cup][i]), Counter(wanted)
        moves = [f"remove {c} from {cup}" for c in sorted((have - goal).elements())]
        moves += [f"add {c} to {cup}" for c in sorted((goal - have).elements())]
        return ", ".join(moves) or None
    return None


def _hrd_next(board):
    n = len(board)
    bi, bj = next((i, j) for i in range(n) for j in range(n) if board[i][j] == 0)
    for move, (ti, tj) in (("up", (bi - 1, bj)), ("down", (bi + 1, bj)), ("left", (bi, bj + 1)), ("right", (bi, bj - 1))):
        if 0 <= ti < n and 0 <= tj < n:
            nxt = [list(r) for r in board]
            nxt[bi][bj], nxt[ti][tj] = nxt[ti][tj], nxt[bi][bj]
            yield move, tuple(map(tuple, nxt))


def _grid_next(state):
    board, (x, y) = state
    n = len(board)
    for move, (dx, dy) in (("left", (-1, 0)), ("right", (1, 0)), ("up", (0, -1)), ("down", (0, 1))):
        nx, ny = x + dx, y + dy
        if not (0 <= nx < n and 0 <= ny < n):
            continue
        nxt = [list(r) for r in board]
        for ox, oy in ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0)):
            if 0 <= nx + ox < n and 0 <= ny + oy < n:
                nxt[ny + oy][nx + ox] = 1 - nxt[ny + oy][nx + ox]
        yield move, (tuple(map(tuple, nxt)), (nx, ny))


def _bfs(start, goal, step, done=None, limit: int = 400_000):
    from collections import deque

    start = tuple(map(tuple, start)) if isinstance(start, list) else start
    goal = tuple(map(tuple, goal)) if isinstance(goal, list) else goal
    done = done or (lambda s, g: s == g)
    # at least one move, even when the start already is the goal: an empty list always fails
    parent = {start: None}
    queue = deque([start])
    while queue and len(parent) < limit:
        state = queue.popleft()
        for move, nxt in step(state):
            if done(nxt, goal):
                path = [move]
                while parent[state] is not None:
                    state, move = parent[state]
                    path.append(move)
                return path[::-1]
            if nxt in parent:
                continue
            parent[nxt] = (state, move)
            queue.append(nxt)
    return None
