"""actions/_dagger.py: the repository's Dagger module read from its source, never imported.

The fixtures have the shapes of a real infrastructure repository's module (dagger.json at the
root naming `.dagger` and the Python SDK, one @object_type class whose `publish` takes the
registry as a defaulted parameter and builds the reference as an f-string), with names of
their own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mikado.errors import ConfigError
from tests.chain.conftest import WORKTREE

DAGGER_JSON = """\
{
  "name": "fleet-ci",
  "engineVersion": "v0.19.11",
  "sdk": {
    "source": "python"
  },
  "source": ".dagger"
}
"""

MODULE_PATH = ".dagger/src/fleet_ci/main.py"

MODULE = '''\
"""Pipelines that build and ship the fleet's container images."""

import dagger
from dagger import dag, function, object_type

LINT_IMAGE = "docker.io/library/python:3.12-slim"


@object_type
class FleetCi:
    @function
    def build(self, src: dagger.Directory, container_name: str) -> dagger.Container:
        """Build images/<name>/Containerfile."""
        return src.directory(f"images/{container_name}").docker_build(
            dockerfile="Containerfile"
        )

    @function
    async def publish(
        self,
        src: dagger.Directory,
        container_name: str,
        version: str,
        commit_sha: str,
        registry: str = "oci.fleet.example",
    ) -> str:
        """Build and push one image; returns what was pushed (tags: v2.4.1-0a1b2c3)."""
        ctr = self.build(src, container_name)
        ref = f"{registry}/fleet/{container_name}:{version}-{commit_sha}"
        return await ctr.publish(ref)

    @function
    async def lint(self, src: dagger.Directory, image: str = LINT_IMAGE) -> str:
        """Run the linters — in the pinned image."""
        return await dag.container().from_(image).with_directory("/src", src).stdout()

    @function
    async def render_docs(self, src: dagger.Directory, version: str) -> dagger.File:
        """Render the docs site into a tarball."""
        return dag.container().with_directory("/docs", src).file(f"/docs-{version}.tgz")

    def helper(self) -> str:
        return "not a function the CLI sees"
'''

# What the operator's change to the module adds: both parameters, and the authentication
# when a password is given.
MODULE_WITH_AUTH = MODULE.replace(
    """\
        registry: str = "oci.fleet.example",
    ) -> str:""",
    """\
        registry: str = "oci.fleet.example",
        registry_username: str = "fleet-ci",
        registry_password: dagger.Secret | None = None,
    ) -> str:""",
).replace(
    """\
        ctr = self.build(src, container_name)
        ref""",
    """\
        ctr = self.build(src, container_name)
        if registry_password is not None:
            ctr = ctr.with_registry_auth(registry, registry_username, registry_password)
        ref""",
)
assert MODULE_WITH_AUTH.count("registry_password") == 3  # both replacements took

# Only the password: the user name is written into the call.
MODULE_WITH_PASSWORD_ONLY = MODULE.replace(
    """\
        registry: str = "oci.fleet.example",
    ) -> str:""",
    """\
        registry: str = "oci.fleet.example",
        registry_password: dagger.Secret | None = None,
    ) -> str:""",
).replace(
    """\
        ctr = self.build(src, container_name)
        ref""",
    """\
        ctr = self.build(src, container_name)
        if registry_password:
            ctr = ctr.with_registry_auth(registry, "fleet-ci", registry_password)
        ref""",
)


@pytest.fixture(scope="module")
def dagger() -> ModuleType:
    sys.path.insert(0, str(WORKTREE / "actions"))
    try:
        import _dagger

        return _dagger
    finally:
        sys.path.remove(str(WORKTREE / "actions"))


def write_module(root: Path, source: str = MODULE, config: str = DAGGER_JSON) -> Path:
    """A repository root holding dagger.json and the module's source."""
    (root / MODULE_PATH).parent.mkdir(parents=True, exist_ok=True)
    (root / MODULE_PATH).write_text(source, encoding="utf-8")
    (root / "dagger.json").write_text(config, encoding="utf-8")
    # What `dagger develop` generates holds classes too; it is not the module's code.
    sdk = root / ".dagger" / "sdk" / "src" / "dagger"
    sdk.mkdir(parents=True, exist_ok=True)
    (sdk / "client.py").write_text("@object_type\nclass FleetCi:\n    pass\n")
    return root


def _line_of(source: str, line: int) -> str:
    return source.splitlines()[line - 1]


def test_the_module_is_the_one_dagger_json_names(dagger: ModuleType, tmp_path: Path) -> None:
    module = dagger.read_module(write_module(tmp_path))
    assert (module.name, module.sdk, module.main_object) == ("fleet-ci", "python", "FleetCi")
    assert module.source == tmp_path / ".dagger" and module.config == tmp_path / "dagger.json"
    # only @function methods, by the names the CLI calls them
    assert sorted(module.functions) == ["build", "lint", "publish", "render-docs"]
    assert module.function("render-docs") is module.function("render_docs")
    assert module.function("render-docs").name == "render_docs"


def test_the_parameters_of_publish_as_written(dagger: ModuleType, tmp_path: Path) -> None:
    publish = dagger.read_module(write_module(tmp_path)).function("publish")
    assert publish.path == tmp_path / MODULE_PATH and publish.relative == MODULE_PATH
    assert "async def publish(" in _line_of(MODULE, publish.line)
    rows = [(p.name, p.annotation, p.default, p.value, p.secret) for p in publish.parameters]
    assert rows == [
        ("src", "dagger.Directory", None, None, False),
        ("container_name", "str", None, None, False),
        ("version", "str", None, None, False),
        ("commit_sha", "str", None, None, False),
        ("registry", "str", '"oci.fleet.example"', "oci.fleet.example", False),
    ]
    registry = publish.parameter("registry")
    assert registry.literal and not registry.required and registry.flag == "--registry"
    assert publish.parameter("commit_sha").flag == "--commit-sha"
    assert publish.parameter("version").required
    for parameter in publish.parameters:
        assert f"{parameter.name}:" in _line_of(MODULE, parameter.line)
    assert publish.authenticates is False and publish.container == "ctr"


def test_a_default_naming_a_module_constant_is_read(dagger: ModuleType, tmp_path: Path) -> None:
    image = dagger.read_module(write_module(tmp_path)).function("lint").parameter("image")
    assert (image.default, image.value, image.literal) == (
        "LINT_IMAGE",
        "docker.io/library/python:3.12-slim",
        True,
    )


def test_the_reference_template_maps_each_field_to_its_flag(
    dagger: ModuleType, tmp_path: Path
) -> None:
    ref = dagger.read_module(write_module(tmp_path)).function("publish").ref
    assert ref.source == 'f"{registry}/fleet/{container_name}:{version}-{commit_sha}"'
    assert "ref = f" in _line_of(MODULE, ref.line)
    field = dagger.Field
    assert ref.registry == field("registry", "--registry")
    assert ref.repository == ("fleet/", field("container_name", "--container-name"))
    assert ref.tag == (field("version", "--version"), "-", field("commit_sha", "--commit-sha"))
    assert dict(ref.flags) == {
        "registry": "--registry",
        "container_name": "--container-name",
        "version": "--version",
        "commit_sha": "--commit-sha",
    }
    # a function that builds other f-strings, none starting with a registry, has none
    assert dagger.read_module(tmp_path).function("render-docs").ref is None


@pytest.mark.parametrize(
    ("body", "repository", "tag"),
    [
        # passed to publish directly, no tag: docker pushes `latest`
        ('return await ctr.publish(f"{registry}/fleet/{name}")', ("fleet/", "{name}"), ("latest",)),
        # as `address=`, with a registry host:port parameter
        (
            'return await ctr.publish(address=f"{registry}/{name}:v{version}")',
            ("{name}",),
            ("v", "{version}"),
        ),
    ],
)
def test_other_template_shapes(
    dagger: ModuleType, tmp_path: Path, body: str, repository: tuple[str, ...], tag: tuple[str, ...]
) -> None:
    source = (
        "import dagger\nfrom dagger import function, object_type\n\n@object_type\n"
        "class FleetCi:\n    @function\n"
        '    async def publish(self, ctr: dagger.Container, name: str, version: str = "1",'
        ' registry: str = "oci.fleet.example:5000") -> str:\n'
        f"        {body}\n"
    )
    ref = dagger.read_module(write_module(tmp_path, source)).function("publish").ref

    def shown(parts: tuple[object, ...]) -> tuple[str, ...]:
        return tuple(f"{{{p.parameter}}}" if isinstance(p, dagger.Field) else str(p) for p in parts)

    assert (shown(ref.repository), shown(ref.tag)) == (repository, tag)


def test_a_template_with_an_expression_mikado_cannot_fill_is_none(
    dagger: ModuleType, tmp_path: Path
) -> None:
    source = MODULE.replace("{container_name}:{version}", "{container_name.lower()}:{version}")
    assert dagger.read_module(write_module(tmp_path, source)).function("publish").ref is None


@pytest.mark.parametrize(
    ("imports", "annotation", "secret"),
    [
        ("import dagger", "dagger.Secret | None", True),
        ("import dagger", "dagger.Secret", True),
        ("import dagger as dg", "dg.Secret | None", True),
        ("from dagger import Secret", "Secret | None", True),
        ("from dagger import Secret as S", "Optional[S]", True),
        ("import dagger", '"dagger.Secret | None"', True),
        ("import dagger", "Annotated[dagger.Secret, Doc('the key')] | None", True),
        ("import dagger", "str", False),
        ("import dagger", "str | None", False),
        # another library's Secret is not dagger's
        ("from vault import Secret", "Secret", False),
    ],
)
def test_a_secret_is_dagger_s_secret_however_it_is_spelled(
    dagger: ModuleType, tmp_path: Path, imports: str, annotation: str, secret: bool
) -> None:
    source = (
        f"{imports}\nfrom dagger import function, object_type\n\n@object_type\nclass FleetCi:\n"
        "    @function\n"
        f"    def publish(self, registry_password: {annotation} = None) -> str:\n"
        "        return ''\n"
    )
    function = dagger.read_module(write_module(tmp_path, source)).function("publish")
    assert function.parameter("registry_password").secret is secret


def test_a_renamed_function_is_called_by_its_new_name(dagger: ModuleType, tmp_path: Path) -> None:
    source = MODULE.replace(
        "    @function\n    async def publish(",
        '    @function(name="ship")\n    async def publish(',
    )
    module = dagger.read_module(write_module(tmp_path, source))
    assert module.function("ship").name == "publish" and "publish" not in module.functions


def test_a_function_the_module_lacks_is_an_error_naming_what_it_has(
    dagger: ModuleType, tmp_path: Path
) -> None:
    module = dagger.read_module(write_module(tmp_path))
    with pytest.raises(ConfigError) as error:
        module.function("push")
    assert error.value.path == str(tmp_path / "dagger.json")
    assert "no function `push`" in error.value.message
    assert "build, lint, publish, render-docs" in error.value.message


def test_no_dagger_json_is_an_error(dagger: ModuleType, tmp_path: Path) -> None:
    write_module(tmp_path)
    (tmp_path / "dagger.json").unlink()
    with pytest.raises(ConfigError, match=r"no dagger\.json in") as error:
        dagger.read_module(tmp_path)
    assert error.value.path == str(tmp_path / "dagger.json")


@pytest.mark.parametrize("sdk", ['{"source": "go"}', '"typescript"'])
def test_a_module_of_another_sdk_is_an_error(dagger: ModuleType, tmp_path: Path, sdk: str) -> None:
    config = DAGGER_JSON.replace('{\n    "source": "python"\n  }', sdk)
    with pytest.raises(ConfigError, match=r"uses the '(go|typescript)' SDK.*only modules"):
        dagger.read_module(write_module(tmp_path, config=config))


def test_an_sdk_written_as_a_string_or_pinned_is_python(dagger: ModuleType, tmp_path: Path) -> None:
    for sdk in ('"python"', '{"source": "python@v0.19.11"}'):
        config = DAGGER_JSON.replace('{\n    "source": "python"\n  }', sdk)
        assert dagger.read_module(write_module(tmp_path, config=config)).sdk.startswith("python")


@pytest.mark.parametrize(
    ("config", "message", "line"),
    [
        ('{\n  "name": "fleet-ci",\n  "sdk": \n}\n', "not valid JSON", 4),
        ('{"sdk": {"source": "python"}}', 'no "name"', None),
        ('{"name": "fleet-ci"}', "names no SDK", None),
        ('{"name": "fleet-ci", "sdk": "python", "source": "ci"}', "does not exist", None),
    ],
)
def test_a_broken_dagger_json_says_what_is_wrong(
    dagger: ModuleType, tmp_path: Path, config: str, message: str, line: int | None
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        dagger.read_module(write_module(tmp_path, config=config))
    assert error.value.path == str(tmp_path / "dagger.json") and error.value.line == line


def test_source_that_does_not_parse_is_reported_where(dagger: ModuleType, tmp_path: Path) -> None:
    write_module(
        tmp_path, MODULE.replace("    @function\n    def build", "    @function\n    def build(")
    )
    with pytest.raises(ConfigError, match="does not parse") as error:
        dagger.read_module(tmp_path)
    assert error.value.path == str(tmp_path / MODULE_PATH) and error.value.line is not None


def test_no_object_type_is_an_error(dagger: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no @object_type class"):
        dagger.read_module(write_module(tmp_path, "def publish() -> None: ...\n"))


# ---------------------------------------------------------------------------------------
# Registry credentials


def _support(dagger: ModuleType, tmp_path: Path, source: str) -> object:
    function = dagger.read_module(write_module(tmp_path, source)).function("publish")
    return dagger.credential_support(function)


def test_before_the_change_publish_takes_no_credentials(dagger: ModuleType, tmp_path: Path) -> None:
    support = _support(dagger, tmp_path, MODULE)
    assert not support.accepted
    assert support.username is None and support.password is None
    assert support.missing == (
        "a `registry_password` parameter of type `dagger.Secret`",
        "a `with_registry_auth(...)` call before it publishes",
    )
    assert support.path == tmp_path / MODULE_PATH
    assert "async def publish(" in _line_of(MODULE, support.line)


def test_after_the_change_publish_takes_both(dagger: ModuleType, tmp_path: Path) -> None:
    support = _support(dagger, tmp_path, MODULE_WITH_AUTH)
    assert support.accepted and support.missing == ()
    assert (support.username.name, support.username.value) == ("registry_username", "fleet-ci")
    assert support.password.secret and support.password.default == "None"


def test_the_password_alone_is_enough(dagger: ModuleType, tmp_path: Path) -> None:
    support = _support(dagger, tmp_path, MODULE_WITH_PASSWORD_ONLY)
    assert support.accepted and support.username is None


def test_a_password_typed_as_text_is_not_enough(dagger: ModuleType, tmp_path: Path) -> None:
    source = MODULE_WITH_AUTH.replace(
        "registry_password: dagger.Secret | None", "registry_password: str"
    )
    support = _support(dagger, tmp_path, source)
    assert not support.accepted
    assert support.missing == (
        "`registry_password` typed as `dagger.Secret` (it is `str`; "
        "`--registry-password=env:VAR` passes a secret, not text)",
    )


def test_a_password_never_used_is_not_enough(dagger: ModuleType, tmp_path: Path) -> None:
    source = MODULE_WITH_AUTH.replace(
        "ctr = ctr.with_registry_auth(registry, registry_username, registry_password)", "pass"
    )
    support = _support(dagger, tmp_path, source)
    assert support.missing == ("a `with_registry_auth(...)` call before it publishes",)


def _code_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", markdown, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_instructions_are_the_change_that_makes_it_take_credentials(
    dagger: ModuleType, tmp_path: Path
) -> None:
    support = _support(dagger, tmp_path, MODULE)
    text = dagger.credentials_instructions(support, "fleet-ci", "OCI_CI_KEY")
    assert text.startswith(
        f"`FleetCi.publish` in `{MODULE_PATH}` (line {support.line}) publishes without"
    )
    code = _code_lines(text)
    assert code == [
        'registry_username: str = "fleet-ci",',
        "registry_password: dagger.Secret | None = None,",
        "if registry_password is not None:",
        "ctr = ctr.with_registry_auth(registry, registry_username, registry_password)",
    ]
    # every line of it is in the module as an operator changed it...
    changed = {line.strip() for line in MODULE_WITH_AUTH.splitlines()}
    assert set(code) <= changed
    # ...which then takes the credentials, and the workflow passes them so
    assert _support(dagger, tmp_path, MODULE_WITH_AUTH).accepted
    assert "`--registry-username=fleet-ci` and `--registry-password=env:OCI_CI_KEY`" in text


def test_instructions_ask_only_for_what_is_missing(dagger: ModuleType, tmp_path: Path) -> None:
    source = MODULE_WITH_PASSWORD_ONLY.replace(
        "        if registry_password:\n"
        '            ctr = ctr.with_registry_auth(registry, "fleet-ci", registry_password)\n',
        "",
    )
    support = _support(dagger, tmp_path, source)
    text = dagger.credentials_instructions(support, "fleet-ci", "OCI_CI_KEY")
    assert _code_lines(text) == [
        "if registry_password is not None:",
        'ctr = ctr.with_registry_auth(registry, "fleet-ci", registry_password)',
    ]
    assert "registry-username" not in text


def test_instructions_use_the_file_s_own_spelling_of_secret(
    dagger: ModuleType, tmp_path: Path
) -> None:
    source = MODULE.replace("import dagger\n", "import dagger as dg\n").replace("dagger.", "dg.")
    support = _support(dagger, tmp_path, source)
    text = dagger.credentials_instructions(support, "fleet-ci", "OCI_CI_KEY")
    assert "registry_password: dg.Secret | None = None," in _code_lines(text)
    assert "import dagger" not in text
