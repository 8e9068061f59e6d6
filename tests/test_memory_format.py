"""Memory files of format version 1 keep loading and answering exactly as when they were saved.

``tests/data/memory_v1_*.npz`` were written by ``CertificateMemory.save`` (smoothcert before
``memory`` became a package); ``tests/data/memory_v1_answers.json`` holds, for each file, query
certificates and points and what that version answered after loading it: parameters, regions,
``lookup``, ``transform`` and ``resolve(store=True)``. Floats, dtypes and labels must match bit for bit.
"""

import dataclasses
import json
import os

import numpy as np
import pytest

from smoothcert import CertificateMemory, Certificates
from smoothcert.memory import FORMAT_VERSION

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "memory_v1_answers.json"), encoding="utf-8") as f:
    CASES = json.load(f)


def encode(value):
    """A JSON-able, exact record of an array (dtype, shape, values) or a scalar."""
    if isinstance(value, np.ndarray):
        return {"dtype": str(value.dtype), "shape": list(value.shape), "data": value.ravel().tolist()}
    return value.item() if isinstance(value, np.generic) else value


def decode(record):
    return np.array(record["data"], dtype=record["dtype"]).reshape(record["shape"])


def encode_certificates(cert):
    return {field.name: encode(getattr(cert, field.name)) for field in dataclasses.fields(cert)}


def decode_certificates(record):
    return Certificates(**{name: decode(v) if isinstance(v, dict) and "dtype" in v else v for name, v in record.items()})


def answers(memory, case):
    """What ``memory`` answers to the queries of ``case``, before and after storing them."""
    queries = decode_certificates(case["queries"])
    points, default = decode(case["points"]), decode(case["default"])

    def state():
        entry, label = memory.lookup(points, default=default)
        return {
            "len": len(memory),
            "total_alpha": memory.total_alpha_,
            "regions": {name: encode(value) for name, value in memory.regions().items()},
            "lookup": {"entry": encode(entry), "label": encode(label)},
        }

    before = {**state(), "transform": encode_certificates(memory.transform(queries))}
    stored = encode_certificates(memory.resolve(queries, store=True))
    after = {**state(), "transform": encode_certificates(memory.transform(queries))}
    return {
        "params": memory.get_params(),
        "norm": memory.norm_,
        "input_shape": list(memory.input_shape_),
        "before": before,
        "stored": stored,
        "after": after,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_saved_memory_answers_as_when_saved(name):
    case = CASES[name]
    memory = CertificateMemory.load(os.path.join(DATA, case["file"]))
    got = json.loads(json.dumps(answers(memory, case)))  # the JSON types of the record
    for key, expected in case["answers"].items():
        assert got[key] == expected, key


@pytest.mark.parametrize("name", sorted(CASES))
def test_saved_memory_saves_the_same_file(name, tmp_path):
    source = os.path.join(DATA, CASES[name]["file"])
    CertificateMemory.load(source).save(tmp_path / "again.npz")
    with np.load(source, allow_pickle=False) as old, np.load(tmp_path / "again.npz", allow_pickle=False) as new:
        assert sorted(new.files) == sorted(old.files)
        for key in old.files:
            assert new[key].dtype == old[key].dtype, key
            np.testing.assert_array_equal(new[key], old[key], err_msg=key)
        header = json.loads(old["header"].tobytes().decode("utf-8"))
    assert header["version"] == FORMAT_VERSION == 1
