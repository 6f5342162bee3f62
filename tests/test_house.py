"""The house rules, checked on the source itself.

- Layers import downwards, at any depth (imports inside functions count): ``libs.utils``
  imports no other project package; ``libs.metrics`` (the field's measures), ``libs.modules``,
  ``libs.datasets`` and ``flownet2`` at most ``libs.utils``; ``libs.networks`` at most ``libs.utils``, ``libs.modules`` and
  ``flownet2``; ``libs.pipeline``, ``libs.benchmark`` and the scripts anything.
- No Python file over 400 lines.
- The README is a front page (at most 250 lines) and every relative link in it and in
  ``docs/`` resolves.
- Every error meant for the user derives from one base class.
"""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "libs.utils": set(),
    "libs.metrics": {"libs.utils"},
    "libs.modules": {"libs.utils"},
    "libs.datasets": {"libs.utils"},
    "flownet2": {"libs.utils"},
    "libs.networks": {"libs.utils", "libs.modules", "flownet2"},
}
PROJECT = ("libs", "flownet2")


def layer(module: str):
    """The layer a dotted module name belongs to, or None for the free ones and third parties."""
    for name in sorted(ALLOWED, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path):
    """``(line, module)`` of every import in ``path``, relative imports resolved."""
    me = module_name(path)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module


def project_sources():
    return sorted(p for top in PROJECT for p in (ROOT / top).rglob("*.py"))


def test_layering_resolves_relative_imports():
    # The checker itself: a relative import inside libs/networks resolves into libs.networks.
    path = ROOT / "libs" / "networks" / "pseudo_label_generator.py"
    modules = {m for _, m in imported_modules(path)}
    assert "libs.networks.flow" in modules and "libs.utils.checkpoint" in modules


def test_layers_import_only_downwards():
    wrong = []
    for path in project_sources():
        me = layer(module_name(path))
        if me is None:
            continue
        for line, module in imported_modules(path):
            them = layer(module) or (module.split(".")[0] if module.split(".")[0] in PROJECT else None)
            if them and them != me and them not in ALLOWED[me]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_no_python_file_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in sorted(ROOT.rglob("*.py"))
            if ".git" not in p.parts and (n := p.read_text().count("\n")) > 400]
    assert not long, "\n".join(long)


def test_readme_is_a_front_page():
    assert (ROOT / "README.md").read_text().count("\n") <= 250


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", ["README.md"] + sorted(p.relative_to(ROOT).as_posix()
                                                         for p in (ROOT / "docs").glob("*.md")))
def test_relative_links_resolve(page):
    path = ROOT / page
    broken = []
    for target in LINK.findall(path.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s):, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md":
            headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", resolved.read_text(), re.M)}
            if anchor not in headings:
                broken.append(target)
    assert not broken, f"{page}: {broken}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_user_errors_share_one_base_class():
    from flownet2 import FlowNet2CheckpointError
    from libs.datasets import DatasetConfigError, DatasetError
    from libs.datasets.toy import ToyDataError
    from libs.pipeline.evaluation import EvaluationError
    from libs.utils.checkpoint import CheckpointError
    from libs.utils.cli import UsageError
    from libs.utils.errors import UserError
    from libs.utils.io import ImageReadError

    for error in (FlowNet2CheckpointError, DatasetConfigError, DatasetError, ToyDataError, EvaluationError,
                  CheckpointError, UsageError, ImageReadError):
        assert issubclass(error, UserError), error


def _top_level_project_imports(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] in PROJECT)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PROJECT:
            yield node.module


def test_scripts_are_thin():
    """The top-level scripts parse flags with a library parser and call a library function:
    no parser, loop or error handling of their own, and no project import at import time."""
    fat = []
    for script in sorted(ROOT.glob("*.py")):
        text = script.read_text()
        tree = ast.parse(text)
        defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        imports = list(_top_level_project_imports(tree))
        if defs != ["main"] or imports or "ArgumentParser" in text:
            fat.append(f"{script.name}: defines {defs}, imports {imports} at the top level")
    assert not fat, "\n".join(fat)
