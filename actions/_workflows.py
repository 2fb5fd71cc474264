"""The zot chain's edits to Forgejo Actions workflows, keeping every comment and format.

Two cards edit the same files: wire-ci-registry-auth gives each push its registry
credentials, enforce-tag-immutability puts a tag guard right before each push command. Both
find the pushes the same way (:func:`push_steps`), both edits are idempotent (an edit that is
already there changes nothing, so "is it done?" is "would the edit change the text?"), and
both go through a ruamel.yaml round trip, which keeps comments, key order, quoting and block
scalars. A shell script inside a ``run:`` block is edited as text, in place.

A push rarely spells out where it goes. ``skopeo copy ... "docker://$IMAGE"`` takes the
registry from an assignment earlier in the script, which is read as far as it is certain; a
``dagger call publish`` often names no registry at all, so the repository's Dagger module
(actions/_dagger.py, passed in as ``dagger``) says which registry and image the function
pushes. What cannot be edited or guarded safely is refused with the job, the step and the
line of the workflow file.

The work is split by concept: :mod:`_workflows_shell` reads a script's shell text,
:mod:`_workflows_variables` its variables, :mod:`_workflows_pushes` finds the pushes,
:mod:`_workflows_yaml` loads, dumps and edits the file, :mod:`_workflows_credentials` and
:mod:`_workflows_guard` are the two edits. This module is what the actions import.
"""

from __future__ import annotations

import threading

from _workflows_credentials import credentials_edit
from _workflows_guard import LEGACY_GUARD_STEP, guard_block, guard_edit, guarded_script
from _workflows_pushes import (
    PushCommand,
    PushStep,
    UneditablePush,
    UnguardablePush,
    push_commands,
    push_steps,
)
from _workflows_shell import GUARD_BEGIN, GUARD_END
from _workflows_yaml import Edit, edited, parse

__all__ = [
    "EDIT_LOCK",
    "GUARD_BEGIN",
    "GUARD_END",
    "LEGACY_GUARD_STEP",
    "Edit",
    "PushCommand",
    "PushStep",
    "UneditablePush",
    "UnguardablePush",
    "credentials_edit",
    "edited",
    "guard_block",
    "guard_edit",
    "guarded_script",
    "parse",
    "push_commands",
    "push_steps",
]

# Two actions edit the same files; with `--jobs` they run in threads of one process, so a
# read-modify-write must not interleave.
EDIT_LOCK = threading.Lock()
