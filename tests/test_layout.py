"""The package layout: stages as subpackages, imports that run one way, and predict free of training code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from train.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "train"
FIXTURES = ROOT / "tests" / "fixtures"

# A stage may import the stages before it, never one after it; the top-level entry modules
# (cli, pipeline) import stages, and no stage imports them.
STAGE_ORDER = ["data", "modeling", "inference", "evaluation", "sharing"]
INDEPENDENT_STAGES = {"measurement"}  # reads prediction files only
ENTRY_MODULES = {"train.cli", "train.pipeline"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules or not m.startswith("train")}
            for name, path in modules.items()}


def closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(m for m in edges.get(current, ()) if m.startswith("train"))
    return seen | {m for s in seen for m in edges.get(s, ()) if not m.startswith("train")}


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def test_predict_imports_nothing_from_training_evaluation_or_sklearn():
    reached = closure("train.inference.predict", graph())
    forbidden = [m for m in reached if m.startswith(("sklearn", "train.evaluation", "train.pipeline", "train.cli",
                                                     "train.modeling.trainer", "train.modeling.fit",
                                                     "train.modeling.adapt", "train.data.corpus"))]
    assert forbidden == [], f"predict reaches training or evaluation code: {sorted(forbidden)}"
    assert "train.modeling.models" in reached and "train.inference.scoring" in reached  # the graph is really walked


def test_importing_predict_loads_no_sklearn_at_run_time():
    code = "import sys, train.inference.predict; print(sorted(m for m in sys.modules if m.startswith(('sklearn', 'train'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "sklearn" not in loaded and "train.inference.predict" in loaded


def test_stages_import_only_earlier_stages():
    edges = graph()
    climbing = []
    for module, targets in edges.items():
        source = stage(module)
        for target in (t for t in targets if t.startswith("train.")):
            if target in ENTRY_MODULES and module not in ENTRY_MODULES:
                climbing.append(f"{module} -> {target}")
            into = stage(target)
            if source is None or into is None or into == source:
                continue
            if source in INDEPENDENT_STAGES or into in INDEPENDENT_STAGES:
                climbing.append(f"{module} -> {target}")
            elif STAGE_ORDER.index(into) > STAGE_ORDER.index(source):
                climbing.append(f"{module} -> {target}")
    assert climbing == []


def test_layout_shows_the_stages():
    top_modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    stages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(top_modules) <= 8, top_modules
    assert len(stages) >= 4 and set(STAGE_ORDER) <= set(stages), stages
    for init in PACKAGE.glob("*/__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init} opens with no docstring saying what the stage takes and gives"
    too_long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert too_long == {}


def test_run_directory_from_release_0_1_predicts_as_it_did(tmp_path):
    """tests/fixtures/run-v0.1 was written by the flat-layout release; its predictions then are stored beside it."""
    out = tmp_path / "pred.jsonl"
    assert main(["predict", str(FIXTURES / "run-v0.1"), str(FIXTURES / "run-v0.1-input.jsonl"),
                 "-o", str(out), "--id-field", "id"]) == 0
    now = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    then = [json.loads(line) for line in (FIXTURES / "run-v0.1-expected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(now) == len(then) == 12
    for a, b in zip(now, then):
        assert {k: a[k] for k in b} == b
