"""The wheel carries templates/ and policies/ and works outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from apimgen.pipeline import render_spec
from tests.conftest import EXAMPLES, ROOT


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_renders_an_example(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (dev extra)")
    dist = tmp_path / "dist"
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--quiet",
        "-w",
        dist,
        ROOT,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("apimgen-*.whl")

    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", venv).returncode == 0
    python = venv / "bin" / "python"
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    # Dependencies come from the test environment; apimgen itself only from the wheel.
    (site / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(EXAMPLES / "seed" / "gateway.yaml", work / "gateway.yaml")
    where = _run(
        python,
        "-c",
        "import apimgen, apimgen.resources as r; print(apimgen.__file__); print(r.template_dir())",
        cwd=work,
    )
    module_file, template_dir = where.stdout.split()
    assert module_file.startswith(str(venv)), "apimgen must come from the wheel"
    assert template_dir.startswith(str(venv)) and "_bundled" in template_dir

    rendered = _run(venv / "bin" / "apimgen", "render", "gateway.yaml", "-o", "out", cwd=work)
    assert rendered.returncode == 0, rendered.stderr
    _, expected = render_spec(EXAMPLES / "seed" / "gateway.yaml")
    for name, text in expected.items():
        assert (work / "out" / name).read_text() == text

    # init needs the bundled starter templates and CI recipes.
    started = _run(venv / "bin" / "apimgen", "init", "project", "--defaults", cwd=work)
    assert started.returncode == 0, started.stderr
    recipe = (work / "project" / ".github" / "workflows" / "apimgen.yml").read_text()
    assert recipe == (EXAMPLES / "ci" / "github-actions.yml").read_text()
