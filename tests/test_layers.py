"""The layers of the data path hold: a module imports only from its own layer or those below.

    foundation < video < budget < perceive < memory < models < tasks < eval, serve < cli

(foundation: errors, registry, db, weights, hfutil, timeparse, choices; ``eval`` and ``serve``
stand side by side and import neither each other; ``vidllm/__init__.py`` and ``__main__`` are
the public facade on top.) Every import counts, including those inside functions, so a lazy
import cannot hide an upward dependency. Module-level imports must also form no cycle.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "vidllm"

FOUNDATION = ("errors", "registry", "db", "weights", "hfutil", "timeparse", "choices")
LAYERS: dict[str, int] = {
    **{name: 0 for name in FOUNDATION},
    "video": 1, "budget": 2, "perceive": 3, "memory": 4, "models": 5, "tasks": 6,
    "eval": 7, "serve": 7,
    "cli": 8, "__main__": 8, "": 8,  # "" is the package itself (vidllm/__init__.py)
}
SIDE_BY_SIDE = {"eval", "serve"}  # same layer, independent of each other


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int]:
    """``vidllm.models.base`` -> ("models", 5)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top not in LAYERS:
        raise AssertionError(f"{module}: no layer declared for vidllm.{top} (add it to LAYERS and docs/architecture.md)")
    return top, LAYERS[top]


def imports_of(path: Path, root: Path, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported vidllm module, line) for every import in ``path``; ``from vidllm import x`` names
    the submodule ``vidllm.x`` when there is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (root.parent / Path(*sub.split("."))).with_suffix(".py").exists() or \
                    (root.parent / Path(*sub.split(".")) / "__init__.py").exists()
                found.append((sub if is_module else base, node.lineno))
    return [(name, line) for name, line in found if name == "vidllm" or name.startswith("vidllm.")]


def violations(root: Path) -> list[str]:
    """Every upward or sideways import, as 'file:line: a (layer) imports b (layer)'."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        my_top, my_rank = layer_of(me)
        for target, line in imports_of(path, root):
            top, rank = layer_of(target)
            upward = rank > my_rank
            sideways = top != my_top and {top, my_top} <= SIDE_BY_SIDE
            if upward or sideways:
                problems.append(f"{path.relative_to(root.parent)}:{line}: {me} ({my_top or 'vidllm'}) imports "
                                f"{target} ({top or 'vidllm'})")
    return problems


def cycles(root: Path) -> list[list[str]]:
    """Cycles among module-level imports (lazy imports inside functions may close a loop)."""
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        me = module_name(path, root)
        graph[me] = {t for t, _ in imports_of(path, root, top_level_only=True) if t != me}
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package importing its own submodules (re-exports) is not a loop back into it
    return [c for c in found if not all(m.startswith(c[0] + ".") or m == c[0] for m in c[1:])]


def test_the_package_imports_only_downward():
    problems = violations(PACKAGE_ROOT)
    assert not problems, "upward or sideways imports:\n" + "\n".join(problems)


def test_module_level_imports_form_no_cycle():
    found = cycles(PACKAGE_ROOT)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "vidllm"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("files, expected", [
    ({"video/decode.py": "def f():\n    from vidllm.models.base import Backend\n"},
     "vidllm.video.decode (video) imports vidllm.models.base (models)"),
    ({"perceive/tools/ocr.py": "from ...tasks import ask\n", "tasks/__init__.py": "", "tasks/ask.py": ""},
     "vidllm.perceive.tools.ocr (perceive) imports vidllm.tasks.ask (tasks)"),
    ({"eval/runner.py": "import vidllm.serve.server\n"},
     "vidllm.eval.runner (eval) imports vidllm.serve.server (serve)"),
    ({"errors.py": "from vidllm import cli\n", "cli/__init__.py": ""},
     "vidllm.errors (errors) imports vidllm.cli (cli)"),
])
def test_an_upward_import_is_caught(tmp_path, files, expected):
    root = _tree(tmp_path, files)
    assert any(expected in p for p in violations(root)), violations(root)


def test_downward_imports_pass_and_a_cycle_is_caught(tmp_path):
    root = _tree(tmp_path, {
        "tasks/ask.py": "from vidllm.models import base\nfrom vidllm.errors import SpecError\n",
        "models/__init__.py": "", "models/base.py": "from vidllm.video.spec import SamplingSpec\n",
        "video/spec.py": "", "video/__init__.py": "", "errors.py": "",
    })
    assert violations(root) == []
    assert cycles(root) == []
    (root / "video" / "spec.py").write_text("from vidllm.video import plan\n")
    (root / "video" / "plan.py").write_text("from vidllm.video.spec import X\n")
    assert cycles(root) == [["vidllm.video.spec", "vidllm.video.plan", "vidllm.video.spec"]]


def test_unknown_top_level_module_must_declare_its_layer(tmp_path):
    root = _tree(tmp_path, {"newthing.py": ""})
    with pytest.raises(AssertionError, match="no layer declared for vidllm.newthing"):
        violations(root)
