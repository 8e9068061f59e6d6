"""Every public name has fuzz cases, and every parameter of a public class or function appears in one:
bad input of every kind is covered across the whole API, settings added later included."""

import ast
import importlib
import inspect
from pathlib import Path

import smoothcert

FUZZ_FILES = sorted(p for p in Path(__file__).parent.glob("test_fuzz_*.py") if p.stem != "test_fuzz_coverage")


def test_every_public_name_has_fuzz_cases():
    covered = set()
    for path in FUZZ_FILES:
        covered |= {case[0] for case in importlib.import_module(path.stem).CASES}
    missing = sorted(set(smoothcert.__all__) - covered)
    assert not missing, f"public names without fuzz cases: {missing}"


def exercised_parameters(tree):
    """Names given as keywords anywhere in ``tree`` (``f(name=...)``, ``dict(name=...)``, ``{"name": ...}``),
    and, per public name, the parameters bound positionally by direct calls to it."""
    keywords, positional = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            keywords |= {k.arg for k in node.keywords if k.arg is not None}
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if func in smoothcert.__all__:
                positional[func] = max(positional.get(func, 0), len(node.args))
        elif isinstance(node, ast.Dict):
            keywords |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return keywords, positional


def public_parameters(name):
    obj = getattr(smoothcert, name)
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p for p in signature.parameters.values() if p.name != "self" and p.kind not in variadic]


def test_every_public_parameter_has_fuzz_cases():
    keywords, positional = set(), {}
    for path in [*FUZZ_FILES, Path(__file__).parent / "fuzz_cases.py"]:
        more_keywords, more_positional = exercised_parameters(ast.parse(path.read_text()))
        keywords |= more_keywords
        for name, count in more_positional.items():
            positional[name] = max(positional.get(name, 0), count)
    missing = [
        f"{name}({p.name})"
        for name in smoothcert.__all__
        for i, p in enumerate(public_parameters(name))
        if p.name not in keywords and i >= positional.get(name, 0)
    ]
    assert not missing, f"public parameters no fuzz case gives: {missing}"


def test_parameter_coverage_can_fail():
    tree = ast.parse("SmoothedClassifier(sigma=0.5)\nDiffusionDenoiser(model, [0.5])\nd = {'alpha': 0.1}")
    keywords, positional = exercised_parameters(tree)
    assert keywords == {"sigma", "alpha"} and positional == {"SmoothedClassifier": 0, "DiffusionDenoiser": 2}
    assert "n0" not in keywords
