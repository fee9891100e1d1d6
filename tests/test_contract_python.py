"""The Python runtime against the bundle contract corpus (tests/contract/bundle_cases.json), which the native
runner, the Java core and the Swift core run too: every case to refuse gives one ``UserError`` line with the
case's words, and ``lazydit sample`` on it exits 2 with one error line and writes nothing; every case to accept
loads with every checksum."""

from __future__ import annotations

import json

import pytest
from contract_cases import load_cases, message_matches

from lazydit import cli
from lazydit.errors import UserError
from lazydit.runtime.bundle import load_bundle

CASES = load_cases()


def _entry(index, name: str) -> dict:
    return next(e for e in json.loads(index.read_text())["cases"] if e["name"] == name)


@pytest.mark.parametrize("name", [c["name"] for c in CASES["refuse"]])
def test_the_runtime_refuses_in_one_line(contract_index, name):
    entry = _entry(contract_index, name)
    with pytest.raises(UserError) as e:
        load_bundle(entry["bundle"])
    msg = str(e.value)
    assert "\n" not in msg and message_matches(msg, entry), f"{name}: {msg}"


@pytest.mark.parametrize("name", [c["name"] for c in CASES["accept"]])
def test_the_runtime_accepts(contract_index, name):
    bundle = load_bundle(_entry(contract_index, name)["bundle"])
    assert bundle.num_steps == 10


@pytest.mark.parametrize("name", [c["name"] for c in CASES["refuse"] if c["class"] == "containment"])
def test_sample_on_a_refused_bundle_is_one_line_and_writes_nothing(contract_index, name, tmp_path, capsys):
    out = tmp_path / "grid.png"
    rc = cli.main(
        [
            "sample",
            "--bundle",
            _entry(contract_index, name)["bundle"],
            "--backend",
            "executorch",
            "--n",
            "1",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("lazydit: error: ") and "inside the bundle" in err[0]
    assert not out.exists()


def test_every_case_has_a_class_and_words():
    names = [c["name"] for c in CASES["refuse"] + CASES["accept"]]
    assert len(names) == len(set(names))
    for c in CASES["refuse"]:
        assert c["class"] in ("structure", "numbers", "files", "containment") and c["error"], c["name"]
