"""Every command the README shows runs, in the order shown, and does what it says."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_opens_with_the_two_fresh_machine_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_command_after_set_up_works_in_a_fresh_shell() -> None:
    """The block after the two set-up commands, run as written by a new bash with nothing of
    this test's environment: apimgen must be found."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    second = [line.split("#")[0].strip() for line in blocks[1].splitlines()]
    assert second[0] == ". .venv/bin/activate" and second[1] == "apimgen --help"
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("the tests do not run from the checkout's .venv, which the README names")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", " && ".join(second)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Usage: apimgen" in done.stdout


def test_make_demo_tells_how_to_reach_apimgen_afterwards() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "activate" in demo


def test_apimgen_commands_in_the_readme_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    commands = [line for line in _shell_lines() if line.startswith("apimgen ")]
    assert len(commands) >= 4
    for command in commands:
        result = run_cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"


def test_make_demo_renders_the_seed_example(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = Path(sys.prefix)
    if not (venv / "bin" / "apimgen").exists():
        pytest.skip("apimgen is not installed as a console script in this environment")
    done = subprocess.run(
        [
            "make",
            "-C",
            str(ROOT),
            "demo",
            f"VENV={venv}",
            f"DEMO_OUT={tmp_path / 'seed'}",
            f"STORY_OUT={tmp_path / 'story'}",
            "-o",
            str(venv / ".installed"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "seed" / "policies" / "apis" / "azure-openai.xml").is_file()
    assert (tmp_path / "story" / "report.html").is_file()
    assert "report.html" in done.stdout, "the demo says where the charts are"


def test_deployment_commands_point_at_rendered_files(tmp_path: Path) -> None:
    """az and terraform cannot run here; what they are pointed at must exist."""
    from apimgen.pipeline import render_spec

    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    text = " ".join(blocks).replace("\\\n", " ")
    assert "az deployment group create" in text and "terraform apply" in text
    _, files = render_spec(ROOT / "examples" / "production" / "gateway.yaml")
    for path in re.findall(r"out/production/(\S+)", text):
        assert path in files or any(f.startswith(path + "/") for f in files), path
    for var_file in re.findall(r"-var-file=(\S+)", text):
        assert f"terraform/{var_file}" in files, var_file


@pytest.mark.slow
def test_a_fresh_clone_runs_the_readme_first_commands(tmp_path: Path) -> None:
    """As a new user would: clone, `make demo` (which installs from the repository's own
    files into the clone's .venv), then the README's next block in a new bash. About a
    minute and a half, most of it pip."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    demo = subprocess.run(
        ["make", "demo", f"PYTHON={sys.base_prefix}/bin/python3"],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert (clone / "out" / "seed-story" / "report.html").is_file()
    assert "run '. .venv/bin/activate'" in demo.stdout
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    second = [line.split("#")[0].strip() for line in blocks[1].splitlines()]
    shell = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", " && ".join(second)],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "Usage: apimgen" in shell.stdout


def test_the_benchmarks_scenarios_load(tmp_path: Path) -> None:
    """`make bench` is not run by the tests; its scenario must still pass the loader's checks
    (file confinement once broke it, unnoticed)."""
    from benchmarks.simulate import hour_scenario

    assert hour_scenario(tmp_path).scenario.duration == 3600
