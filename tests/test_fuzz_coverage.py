"""Every public name has fuzz cases: bad input of every kind is covered across the whole API."""

import importlib
from pathlib import Path

import smoothcert


def test_every_public_name_has_fuzz_cases():
    covered = set()
    for path in sorted(Path(__file__).parent.glob("test_fuzz_*.py")):
        if path.stem != "test_fuzz_coverage":
            covered |= {case[0] for case in importlib.import_module(path.stem).CASES}
    missing = sorted(set(smoothcert.__all__) - covered)
    assert not missing, f"public names without fuzz cases: {missing}"
