"""Layers only look down: formats -> fpu/lns -> rtl -> sim -> models -> dse/rank/gen/demo; gpu_ref above formats.

Every import in the packages (at module level or inside a function) is
parsed and checked against the layer of the module that makes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Layer of each module (longest matching prefix wins); a module may import its own layer and those below.
LAYERS = {
    "hw.files": 0, "hw.formats": 0,
    "hw.fpu": 1, "hw.lns": 1, "gpu_ref": 1,
    "hw.rtl": 2,
    "hw.sim": 3,
    "hw.models": 4,
    "hw.dse": 5, "hw.rank": 5, "hw.gen": 5, "hw.demo": 5, "hw.lint": 5, "hw.crosscheck": 5, "hw.published": 5,
}


def layer(module: str) -> int | None:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len,
               default=None)
    return LAYERS[best] if best else None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    """(line, imported module) of every import in a file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for alias in node.names:  # ``from . import sub`` imports a submodule
                yield node.lineno, f"{target}.{alias.name}"


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    files = sorted((ROOT / "hw").rglob("*.py")) + sorted((ROOT / "gpu_ref").rglob("*.py"))
    for path in files:
        own = layer(_module_name(path))
        if own is None and not list(imports(path)):  # the empty hw/__init__.py
            continue
        assert own is not None, f"{path} is in no layer: add it to LAYERS"
        for line, target in imports(path):
            theirs = layer(target)
            if theirs is not None and theirs > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} (layer {theirs} > {own})")
    assert not upward, "\n".join(upward)


def test_gpu_ref_imports_only_the_formats():
    for path in sorted((ROOT / "gpu_ref").rglob("*.py")):
        for line, target in imports(path):
            if target.startswith("hw."):
                assert layer(target) == 0, f"{path.relative_to(ROOT)}:{line} imports {target}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser catches what it is meant to: a lazy relative import of a higher layer."""
    fake = ROOT / "hw" / "fpu" / "_probe_upward.py"
    fake.write_text("def f():\n    from ..models import cost\n")
    try:
        found = [t for _, t in imports(fake)]
        assert "hw.models" in found and layer("hw.models") > layer("hw.fpu._probe_upward")
    finally:
        fake.unlink()
