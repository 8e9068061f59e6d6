"""The import graph of smoothcert's modules: every import points one way, none reaches the package root."""

import ast
import pathlib

import smoothcert

PACKAGE = pathlib.Path(smoothcert.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules):
    """The smoothcert modules that ``path`` imports anywhere in it (functions included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # "from package import module" imports the module; "from module import name" the module.
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            if candidate in modules:
                found.add(candidate)
                break
    return found


def _graph():
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, paths) - {name} for name, path in paths.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or ``None``."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                return stack[stack.index(child):] + [child]
            if child not in state:
                found = visit(child, stack + [child])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_no_import_cycle_among_modules():
    # Imports inside functions count: they only hide a cycle from Python, not from a reader.
    graph = _graph()
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_no_module_imports_the_package_root():
    importers = sorted(name for name, children in _graph().items() if "smoothcert" in children and name != "smoothcert")
    assert not importers, f"modules importing the package root: {importers}"


def test_the_checks_can_fail():
    # Negative controls: a two-module cycle and an upward import are found.
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    path = PACKAGE / "estimator.py"
    assert "smoothcert.engine" in _imports(path, {"smoothcert.engine", "smoothcert"})
