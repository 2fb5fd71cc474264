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
