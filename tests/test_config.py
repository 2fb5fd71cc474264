from __future__ import annotations

from pathlib import Path

import pytest

from mikado.config import find_config_file, load_config
from mikado.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_resolve_against_the_current_folder(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.source is None
    assert config.docs == tmp_path / "cards"
    assert config.actions == tmp_path / "actions"
    assert config.runtime == tmp_path / ".mikado"
    assert config.required == ("title", "modified", "tags")
    assert config.index_mode == "auto" and config.completion == "remove"
    assert config.excluded() == frozenset({"changelog.d"})


def test_nearest_file_in_a_parent_and_paths_relative_to_it(tmp_path: Path) -> None:
    write(tmp_path / "mikado.toml", '[mikado]\ndocs = "docs"\nexclude = ["drafts"]\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = load_config(cwd=nested)
    assert config.source == tmp_path / "mikado.toml"
    assert config.docs == tmp_path / "docs"
    assert config.runtime == tmp_path / ".mikado"
    assert "drafts" in config.excluded()


def test_mikado_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.mikado]\ndocs = "from-pyproject"\n')
    write(tmp_path / "mikado.toml", '[mikado]\ndocs = "from-mikado"\n')
    assert load_config(cwd=tmp_path).docs == tmp_path / "from-mikado"


def test_pyproject_without_tool_mikado_is_passed_over(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.mikado]\ndocs = "outer"\n')
    write(tmp_path / "inner" / "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config_file(tmp_path / "inner") == tmp_path / "pyproject.toml"


def test_pyproject_action_tables_nest_under_tool_mikado(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[tool.mikado]\ndocs = "d"\n[tool.mikado.authentik]\nurl = "https://a"\n'
        'token = "env:AUTHENTIK_TOKEN"\n',
    )
    config = load_config(cwd=tmp_path)
    assert config.settings == {"authentik": {"url": "https://a", "token": "env:AUTHENTIK_TOKEN"}}


def test_explicit_config_and_docs_override(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "m.toml", '[mikado]\ndocs = "d"\n[zot]\nurl = "http://z"\n')
    config = load_config(config_file=Path("conf/m.toml"), docs=Path("other"), cwd=tmp_path)
    assert config.docs == tmp_path / "other"
    assert config.settings["zot"] == {"url": "http://z"}


def test_missing_explicit_config_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file=Path("nope.toml"), cwd=tmp_path)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[mikado]\ndcos = "d"\n', "unknown key `dcos`"),
        ('[mikado]\nignore = ["brokn-link"]\n', "unknown rule(s): brokn-link"),
        ('[mikado]\nignore = ["orphn:drafts/*.md"]\n', "unknown rule(s): orphn"),
        ('[mikado]\nignore = ["orphan:"]\n', "give a path pattern after the colon"),
        ('[mikado]\ncompletion = "delete"\n', "`completion`"),
        ('[mikado]\nindex = "manual"\n', "`index`"),
        ("[mikado]\nindex = true\n", "`index`"),
        ('[mikado]\nexclude = "drafts"\n', "`exclude` must be a list"),
        ("[mikado]\ntimeout = -1\n", "`timeout`"),
        ("[mikado.tls]\nverify = false\n", "unknown key `verify` in tls"),
        ('[mikado.tls]\ninsecure = "yes"\n', "`tls.insecure`"),
        ('docs = "d"\n', "top-level key `docs`"),
        ('[mikado]\nbuild_time_docs = "CHANGELOG"\n', "`build_time_docs` must be a list"),
        ('[mikado]\nbuild_time_docs = ["changes/CHANGELOG"]\n', "cannot be a wiki-link target"),
        ('[mikado]\nbuild_time_docs = ["CHANGELOG "]\n', "cannot be a wiki-link target"),
        ('[mikado]\nbuild_time_docs = [""]\n', "`build_time_docs` must be a list"),
        ('[mikado]\nallowed_fields = ["owner", 3]\n', "`allowed_fields` must be a list"),
        ("[mikado\n", "invalid TOML"),
    ],
)
def test_configuration_errors_exit_2_and_name_the_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    write(tmp_path / "mikado.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert fragment in caught.value.message
    assert str(tmp_path / "mikado.toml") in str(caught.value)


@pytest.mark.parametrize(
    "table",
    [
        '[authentik]\ntoken = "s3cr3t-literal"\n',
        '[forgejo]\napi_password = "s3cr3t-literal"\n',
        '[zot.ci]\nCLIENT_SECRET = "s3cr3t-literal"\n',
        '[zot]\napikeys = ["env:OK", "s3cr3t-literal"]\n',
        # Whatever its TOML type, a literal under a secret-looking key reaches the action as is.
        "[zot]\napi_key = 734512\n",
        "[zot]\npin_token = 7345.12\n",
        "[zot]\napikeys = [734512]\n",
        "[zot]\nsecret_at = 2026-01-01T00:00:00\n",
        '[zot]\nci_token = { user = "ci", pass = "s3cr3t-literal" }\n',
        '[zot.ci_password]\nvalue = "s3cr3t-literal"\n',
        '[zot]\nkeys = [{ id = "one", value = "s3cr3t-literal" }]\n',
        '[zot]\ntokens = [["env:OK"], ["s3cr3t-literal"]]\n',
        "[tool.mikado.zot]\ntoken = 734512\n",
    ],
)
def test_literal_secrets_are_refused_without_echoing_them(tmp_path: Path, table: str) -> None:
    name = "pyproject.toml" if table.startswith("[tool.") else "mikado.toml"
    write(tmp_path / name, table)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "s3cr3t-literal" not in str(caught.value) and "7345" not in str(caught.value)
    assert "env:VARIABLE" in caught.value.message


def test_secret_references_and_non_secret_values_are_accepted(tmp_path: Path) -> None:
    write(
        tmp_path / "mikado.toml",
        '[authentik]\ntoken = "env:AK_TOKEN"\nclient_secret = "file:/run/secret"\n'
        'apikey = true\nurl = "https://auth"\n',
    )
    assert load_config(cwd=tmp_path).settings["authentik"]["apikey"] is True


def test_references_nested_under_a_secret_looking_key_are_accepted(tmp_path: Path) -> None:
    write(
        tmp_path / "mikado.toml",
        '[zot]\nci_token = { user = "env:CI_USER", pass = "file:ci.pass" }\n'
        'tokens = ["env:A_KEY", ["file:b"]]\nverify_token = false\n'
        '[zot.api_keys]\nprod = "env:PROD_KEY"\n',
    )
    settings = load_config(cwd=tmp_path).settings["zot"]
    assert settings["ci_token"] == {"user": "env:CI_USER", "pass": "file:ci.pass"}
    assert settings["api_keys"] == {"prod": "env:PROD_KEY"}


def test_index_table_and_off(tmp_path: Path) -> None:
    write(tmp_path / "mikado.toml", '[mikado]\nindex = { "how-to/" = "how-to/README.md" }\n')
    config = load_config(cwd=tmp_path)
    assert config.index_mode == "table"
    assert dict(config.index_table) == {"how-to": "how-to/README.md"}
    write(tmp_path / "mikado.toml", "[mikado]\nindex = false\n")
    assert load_config(cwd=tmp_path).index_mode == "off"


def test_build_time_docs_and_allowed_fields(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.build_time_docs == () and config.allowed_fields is None
    write(
        tmp_path / "pyproject.toml",
        '[tool.mikado]\nbuild_time_docs = ["CHANGELOG", "api.html"]\nallowed_fields = []\n',
    )
    config = load_config(cwd=tmp_path)
    assert config.build_time_docs == ("CHANGELOG", "api.html")
    # an empty list is a list: only the fields mikado reads are allowed
    assert config.allowed_fields == ()
    assert config.settings == {}


def test_tls_settings(tmp_path: Path) -> None:
    write(tmp_path / "mikado.toml", '[mikado.tls]\nca_bundle = "ca.pem"\n')
    tls = load_config(cwd=tmp_path).tls
    assert tls.ca_bundle == tmp_path / "ca.pem" and not tls.insecure


def test_runtime_folder_keeps_itself_out_of_git(tmp_path: Path) -> None:
    import subprocess

    from mikado.config import ensure_runtime
    from mikado.engine.journal import Journal

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    Journal(tmp_path / ".mikado", "run-1").record("run-start", goal="g")
    assert ensure_runtime(tmp_path / ".mikado") == tmp_path / ".mikado"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == ""
    assert (tmp_path / ".mikado" / "journal.jsonl").exists()
