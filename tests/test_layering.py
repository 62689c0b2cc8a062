"""The dependency direction of sciml/ (DESIGN.md): read from the source's import graph, lazy imports included."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sciml"
GROUND = ("sciml.sim", "sciml.data", "sciml.metrics", "sciml.mesh")
ABOVE_GROUND = ("sciml.solvers", "sciml.training", "sciml.tasks", "sciml.pinn", "sciml.recipes", "sciml.config",
                "sciml.cli", "sciml.train", "sciml.evaluate", "sciml.generate", "sciml.calibration", "sciml.calibrate",
                "sciml.couple")
# what each layer may not import (its own floor and those below are fine)
FORBIDDEN = {
    "sciml.errors": ("sciml.",),
    "sciml.registry": ("sciml.",),
    "sciml.sim": ABOVE_GROUND,
    "sciml.data": ABOVE_GROUND,
    "sciml.metrics": ABOVE_GROUND,
    "sciml.mesh": ABOVE_GROUND,
    "sciml.pinn": ("sciml.solvers", "sciml.training", "sciml.tasks", "sciml.config", "sciml.cli"),
    "sciml.solvers": ("sciml.training", "sciml.tasks", "sciml.config", "sciml.cli", "sciml.recipes"),
    "sciml.recipes": ("sciml.solvers", "sciml.training", "sciml.tasks", "sciml.config", "sciml.cli"),
    "sciml.training": ("sciml.tasks", "sciml.config", "sciml.cli", "sciml.recipes"),
    "sciml.tasks": ("sciml.config", "sciml.cli", "sciml.train", "sciml.evaluate", "sciml.calibration"),
    "sciml.calibration": ("sciml.solvers", "sciml.train", "sciml.evaluate", "sciml.calibrate", "sciml.couple"),
}


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of sciml it imports`` (a ``from package import name`` counts the package only when
    ``name`` is not a module of it)."""
    mods = modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            for target in targets:
                resolved = resolve(target) if target.startswith("sciml") else None
                if resolved and resolved != module:
                    edges[module].add(resolved)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_there_are_no_import_cycles():
    assert cycles(import_graph()) == []


def within(module: str, package: str) -> bool:
    return package.endswith(".") and module.startswith(package) or module == package or \
        module.startswith(package + ".")


def test_every_layer_imports_only_downwards():
    wrong = []
    for module, targets in import_graph().items():
        for layer, forbidden in FORBIDDEN.items():
            if within(module, layer):
                wrong += [f"{module} -> {t}" for t in targets
                          if any(within(t, f) for f in forbidden) and not within(t, layer)]
    assert not wrong, wrong


def test_the_graph_reader_sees_lazy_imports_and_cycles():
    """The checks above could pass vacuously: the reader must find edges inside functions and a real cycle."""
    edges = import_graph()
    assert "sciml.tasks" in edges["sciml.train"]  # imported inside main()
    assert "sciml.sim.base" in edges["sciml.sim.ks"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_error_classes_live_in_one_leaf_module():
    defined = {}
    builtin = ("Exception", "ValueError", "RuntimeError")
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id in builtin for b in node.bases):
                defined.setdefault(module, []).append(node.name)
    assert defined == {"sciml.errors": ["ConfigError", "DataError", "CheckpointError", "ExportError",
                                         "TrainingDiverged"]}
    assert import_graph()["sciml.errors"] == set()


def test_the_code_map_lists_every_module():
    doc = (ROOT.parent / "docs" / "repomap.md").read_text()
    missing = [str(p.relative_to(ROOT.parent)) for p in sorted(ROOT.rglob("*.py"))
               if f"`{p.relative_to(ROOT.parent)}`" not in doc and p.name != "__init__.py"
               or p.name == "__init__.py" and p.parent.name in ("solvers", "tasks", "recipes", "sim")
               and f"`{p.relative_to(ROOT.parent)}`" not in doc]
    assert not missing, f"docs/repomap.md lacks {missing}"
