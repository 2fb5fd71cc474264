from __future__ import annotations

import json
from pathlib import Path

import pytest

from mikado.engine.outputs import Outputs, OutputStore
from mikado.engine.secrets import Masker


def test_a_mapping_reads_back_in_the_order_it_was_stored_in_this_run_and_the_next(
    tmp_path: Path,
) -> None:
    policy = {"users": ["ci"], "actions": ["read", "create"], "anonymousPolicy": []}
    store = OutputStore(tmp_path, Masker())
    Outputs(store, "enforce").set("policy", {"zeta/**": policy, "alpha/**": policy})
    for reader in (store, OutputStore(tmp_path, Masker())):
        stored = reader.get("enforce", "policy")
        assert list(stored) == ["zeta/**", "alpha/**"]
        assert list(stored["zeta/**"]) == ["users", "actions", "anonymousPolicy"]
    on_disk = json.loads((tmp_path / "outputs.json").read_text(encoding="utf-8"))
    assert list(on_disk["enforce"]["policy"]["alpha/**"]) == list(policy)


def test_a_value_holding_a_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    masker = Masker()
    masker.add(["s3cret-value-123"])
    store = OutputStore(tmp_path, masker)
    with pytest.raises(ValueError) as refused:
        store.put("card", "token", {"nested": "Bearer s3cret-value-123"})
    assert "holds a secret" in str(refused.value) and "s3cret" not in str(refused.value)
    assert not (tmp_path / "outputs.json").exists()


@pytest.mark.parametrize(
    "secret", ['hunter"2', "back\\slash-42", "tab\there-42", "bell\x07-42", "né-ë-42"]
)
def test_a_secret_that_json_would_escape_is_still_refused(tmp_path: Path, secret: str) -> None:
    """The guard compares values, not their JSON text, where `"` reads `\\"`."""
    store = OutputStore(tmp_path, Masker([secret]))
    for key, value in (
        ("plain", secret),
        ("nested", {"a": [1, {"b": f"Bearer {secret}"}]}),
        ("in-a-key", {f"x{secret}": 1}),
    ):
        with pytest.raises(ValueError, match="holds a secret") as refused:
            store.put("card", key, value)
        assert secret not in str(refused.value)
    with pytest.raises(ValueError, match="holds a secret"):
        store.put("card", f"name-{secret}", 1)
    assert not (tmp_path / "outputs.json").exists()


def test_a_number_that_is_a_secret_is_refused_and_other_numbers_pass(tmp_path: Path) -> None:
    store = OutputStore(tmp_path, Masker(["424242", "0"]))
    with pytest.raises(ValueError, match="holds a secret"):
        store.put("card", "pin", 424242)
    # A number merely containing a secret's digits is not that secret.
    store.put("card", "port", 3000)
    assert store.get("card", "port") == 3000


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"a": [-float("inf")]}])
def test_nan_and_infinity_are_refused_with_a_clear_message(tmp_path: Path, value: object) -> None:
    store = OutputStore(tmp_path, Masker())
    with pytest.raises(ValueError, match="NaN or Infinity"):
        store.put("card", "ratio", value)
    assert store.get("card", "ratio") is None
    assert not (tmp_path / "outputs.json").exists()


def test_text_that_is_not_unicode_is_refused_and_later_values_still_store(tmp_path: Path) -> None:
    store = OutputStore(tmp_path, Masker())
    with pytest.raises(ValueError, match="output `bad`"):
        store.put("card", "bad", "half a pair \ud800")
    store.put("card", "good", "fine")
    on_disk = json.loads((tmp_path / "outputs.json").read_text(encoding="utf-8"))
    assert on_disk == {"card": {"good": "fine"}}


def test_an_output_name_must_be_text(tmp_path: Path) -> None:
    store = OutputStore(tmp_path, Masker(["hunter2"]))
    with pytest.raises(TypeError, match="output names are strings, not int"):
        store.put("card", 7, "x")  # type: ignore[arg-type]
