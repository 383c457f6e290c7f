"""The command line as users meet it: exit codes first, then what is printed where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apimgen import __version__
from apimgen.errors import ExitCode
from tests.conftest import EXAMPLES, make_spec, run_cli, write_spec

SEED = str(EXAMPLES / "seed" / "gateway.yaml")


def test_help_lists_commands_and_exit_codes() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for word in (
        "validate",
        "render",
        "schema",
        "Exit codes",
        "3 changes pending",
        "130 interrupted",
    ):
        assert word in text


def test_no_arguments_shows_help_as_usage_error() -> None:
    result = run_cli()
    assert result.exit_code == ExitCode.USAGE
    assert "Usage" in result.output


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"apimgen {__version__}"


def test_usage_error_exits_2() -> None:
    result = run_cli("render", SEED)  # -o is required
    assert result.exit_code == ExitCode.USAGE
    assert "--output" in result.output


def test_validate_ok() -> None:
    result = run_cli("validate", SEED)
    assert result.exit_code == ExitCode.OK
    assert "is valid" in result.stdout
    assert result.stderr == ""


def test_validate_json_ok() -> None:
    result = run_cli("validate", SEED, "--json")
    assert result.exit_code == ExitCode.OK
    assert json.loads(result.stdout) == {
        "schema": "apimgen.validate/v1",
        "ok": True,
        "errors": [],
        "warnings": [],
    }


def test_missing_file_is_error_1_without_traceback() -> None:
    result = run_cli("validate", "does-not-exist.yaml")
    assert result.exit_code == ExitCode.ERROR
    assert "no such file" in result.stderr
    assert "Traceback" not in result.output


def test_render_writes_then_check_passes_then_detects_drift(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("render", SEED, "-o", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert (out / "policies" / "global.xml").is_file()

    check = run_cli("render", SEED, "-o", str(out), "--check")
    assert check.exit_code == ExitCode.OK
    assert "up to date" in check.stdout

    (out / "policies" / "global.xml").write_text("<policies />\n")
    (out / "policies" / "stray.xml").write_text("<policies />\n")
    stale = run_cli("render", SEED, "-o", str(out), "--check")
    assert stale.exit_code == ExitCode.CHANGES
    assert "policies/global.xml" in stale.stdout
    assert "policies/stray.xml" in stale.stdout
    assert "is stale" in stale.stderr
    assert (out / "policies" / "stray.xml").exists(), "--check writes nothing"


def test_render_check_json(tmp_path: Path) -> None:
    result = run_cli("render", SEED, "-o", str(tmp_path / "none"), "--check", "--json")
    assert result.exit_code == ExitCode.CHANGES
    document = json.loads(result.stdout)
    assert document["schema"] == "apimgen.render-check/v1"
    assert document["ok"] is False
    assert "policies/global.xml" in document["missing"]


def test_render_json_lists_files(tmp_path: Path) -> None:
    result = run_cli("render", SEED, "-o", str(tmp_path / "o"), "--json", "--format", "policies")
    assert result.exit_code == ExitCode.OK
    document = json.loads(result.stdout)
    assert document["files"] == ["policies/apis/azure-openai.xml", "policies/global.xml"]


def test_render_formats(tmp_path: Path) -> None:
    result = run_cli("render", SEED, "-o", str(tmp_path / "all"), "--json")
    files = json.loads(result.stdout)["files"]
    assert {name.split("/")[0] for name in files} == {"policies", "bicep", "terraform"}
    bicep_only = run_cli("render", SEED, "-o", str(tmp_path / "b"), "--json", "-f", "bicep")
    files = json.loads(bicep_only.stdout)["files"]
    assert {name.split("/")[0] for name in files} == {"policies", "bicep"}


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("render", SEED, "-o", str(tmp_path / "x"), "--format", "pulumi")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown format 'pulumi'" in result.output
    assert not (tmp_path / "x").exists()


def test_failed_render_writes_nothing(tmp_path: Path) -> None:
    bad = write_spec(
        tmp_path / "bad.yaml", make_spec(apis=[{"name": "x", "path": "x", "backend": "nope"}])
    )
    out = tmp_path / "out"
    result = run_cli("render", str(bad), "-o", str(out))
    assert result.exit_code == ExitCode.ERROR
    assert "unknown backend or pool 'nope'" in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_render_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli("render", SEED, "-o", str(tmp_path))
    assert result.exit_code == ExitCode.ERROR
    assert "refusing to replace it" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_global_flags_work_after_the_command(tmp_path: Path) -> None:
    result = run_cli("render", SEED, "-o", str(tmp_path / "o"), "-v")
    assert result.exit_code == ExitCode.OK
    assert "wrote" in result.stderr
    quiet = run_cli("render", SEED, "-o", str(tmp_path / "o"), "--quiet")
    assert quiet.exit_code == ExitCode.OK
    assert quiet.stdout == "" and quiet.stderr == ""


def test_schema_to_stdout_and_file(tmp_path: Path) -> None:
    result = run_cli("schema")
    assert result.exit_code == ExitCode.OK
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    target = tmp_path / "spec.schema.json"
    assert run_cli("schema", "-o", str(target)).exit_code == ExitCode.OK
    assert json.loads(target.read_text()) == schema


def test_debug_env_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIMGEN_DEBUG", "1")
    result = run_cli("validate", "does-not-exist.yaml")
    assert result.exit_code == ExitCode.ERROR
    assert result.exception is not None
    assert type(result.exception).__name__ == "InputError"


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import apimgen.spec.load as load_module

    def interrupted(path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(load_module, "load_spec", interrupted)
    result = run_cli("validate", SEED)
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "interrupted" in result.stderr


def test_console_script_runs_and_colour_follows_no_color(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "apimgen", "validate", "missing.yaml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == ExitCode.ERROR
    assert "\x1b[" not in done.stderr
    assert "no such file" in done.stderr


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from apimgen.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pydantic', 'jinja2', 'yaml', 'rich', 'numpy', 'azure') "
        "if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_shell_completion_completes_commands_and_options() -> None:
    """What `apimgen --install-completion` wires into the shell, asked the way bash asks."""
    apimgen = Path(sys.executable).parent / "apimgen"
    if not apimgen.exists():
        pytest.skip("apimgen is not installed as a console script in this environment")

    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_APIMGEN_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = subprocess.run([apimgen], env=env, capture_output=True, text=True, check=False)
        return done.stdout.split()

    assert "plan" in complete("apimgen pl")
    assert "--detailed-exitcode" in complete("apimgen plan --det")
    script = subprocess.run(
        [apimgen, "--show-completion", "bash"], capture_output=True, text=True, check=False
    )
    assert script.returncode == 0 and "_apimgen_completion" in script.stdout


@pytest.mark.parametrize(("elapsed", "shown"), [(0.4, False), (1.5, True)])
def test_the_progress_bar_shows_only_for_work_over_a_second(elapsed: float, shown: bool) -> None:
    import io

    from rich.console import Console

    from apimgen.cli.output import Output

    out = Output()
    buffer = io.StringIO()
    out.err = Console(file=buffer, force_terminal=True, width=80)
    times = iter([0.0, elapsed, elapsed])
    with out.progress("simulating run.yaml", clock=lambda: next(times)) as update:
        update(0.5)
        update(1.0)
    assert ("simulating run.yaml" in buffer.getvalue()) is shown
