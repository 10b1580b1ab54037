"""The layer rules of docs/architecture.md, checked on every import of the package code.

Layers point one way: kernel <- retrieval <- (training, bot) <- the CLI. Every `import`
and `from ... import` counts, at the top of a module or inside a function, under
`TYPE_CHECKING` or not: a lazy import is still a dependency. The one door from training/
into bot/ is `bot.store.learning_log`, for the learning-loop modules that read the log.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("supportbot", "bot", "retrieval", "training")
TOP = ("supportbot.cli", "supportbot.testing")
LEARNING_LOG = "bot.store.learning_log"
LEARNING_LOOP = (
    "training.review",
    "training.labels",
    "training.retrain",
    "training.intent_discovery",
)


@dataclass(frozen=True)
class Layer:
    name: str
    packages: str
    """As the docs table shows them."""
    may_import: tuple[str, ...]
    """Layer names."""
    may_import_text: str


LAYERS = {
    "kernel": Layer(
        "kernel", "`supportbot` (all but `cli` and `testing`)", (), "nothing of the project"
    ),
    "retrieval": Layer("retrieval", "`retrieval`", ("kernel",), "kernel"),
    "bot": Layer("bot", "`bot`", ("kernel", "retrieval"), "kernel, retrieval"),
    "training": Layer(
        "training",
        "`training`",
        ("kernel", "retrieval"),
        "kernel, retrieval; and `bot.store.learning_log`, from "
        + ", ".join(f"`{m}`" for m in LEARNING_LOOP)
        + " only",
    ),
    "cli": Layer("cli", "`supportbot.cli`, `supportbot.testing`", tuple(PACKAGES), "everything"),
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None for anything outside the project."""
    root = module.split(".")[0]
    if root not in PACKAGES:
        return None
    if root == "supportbot":
        return (
            "cli"
            if module.startswith(TOP) and module.split(".")[1] in ("cli", "testing")
            else "kernel"
        )
    return root


def allowed(importer: str, imported: str) -> bool:
    source, target = layer_of(importer), layer_of(imported)
    if target is None or source == target or source == "cli":
        return True
    if source == "training" and imported.startswith(LEARNING_LOG):
        return importer in LEARNING_LOOP
    return target in LAYERS[source].may_import


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def violations(root: Path) -> list[str]:
    """`file:line imports X` for every import the layer table forbids, under `root`."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            for line, imported in imports_of(path, module):
                if not allowed(module, imported):
                    found.append(f"{path.relative_to(root)}:{line} imports {imported}")
    return sorted(found)


def test_no_module_imports_across_the_layers():
    assert violations(REPO) == []


def test_a_planted_violation_is_named_with_its_file_and_line(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "retrieval" / "encoder.py").write_text(
        "import numpy\n\n\ndef load():\n    from bot.server.app import create_app\n"
    )
    (tmp_path / "training" / "train.py").write_text("from bot.store import learning_log\n")
    (tmp_path / "training" / "review.py").write_text("from bot.store.learning_log import X\n")
    (tmp_path / "supportbot" / "errors.py").write_text("from . import config\nimport bot\n")

    assert violations(tmp_path) == [
        "retrieval/encoder.py:5 imports bot.server.app.create_app",
        "supportbot/errors.py:2 imports bot",
        "training/train.py:1 imports bot.store.learning_log",
    ]


@pytest.mark.parametrize("module", ["retrieval.intent_classifier", "training.loader"])
def test_importing_inference_or_the_training_loader_loads_no_runtime_module(module):
    probe = (
        f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'bot'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


@pytest.mark.parametrize("layer", list(LAYERS))
def test_the_docs_show_the_table_this_test_enforces(layer):
    row = LAYERS[layer]
    expected = f"| {row.name} | {row.packages} | {row.may_import_text} |"
    assert expected in (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
