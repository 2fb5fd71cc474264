from __future__ import annotations

from pathlib import Path

from mikado.views.manual import manual_steps

CARD = """\
---
title: Mint a key
status: active
requires:
  - switch-on
---

# Mint a key

Intro.

## What to do

1. Log in.

   ```sh
   # not a heading: inside a fence
   curl -X POST https://zot/zot/auth/apikey
   ```

2. Store the key.

### A detail

Still part of the steps.

## Verification

- [ ] done
"""


def test_the_what_to_do_section_is_returned_as_written_up_to_the_next_peer_heading(
    tmp_path: Path,
) -> None:
    card = tmp_path / "mint.md"
    card.write_text(CARD)
    steps = manual_steps(card)
    assert steps[0] == "1. Log in."
    assert "   # not a heading: inside a fence" in steps
    assert "### A detail" in steps and steps[-1] == "Still part of the steps."
    assert "## Verification" not in steps


def test_a_steps_heading_counts_and_a_card_without_one_gives_nothing(tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("# Card\n\n## Steps\n\nDo it.\n")
    assert manual_steps(card) == ["Do it."]
    card.write_text(CARD.replace("## What to do", "## Approach"))
    assert manual_steps(card) == []
    assert manual_steps(tmp_path / "missing.md") == []
