"""The compiled simulator (apimgen/simulate/native.py): built where it can be, never trusted
when stale, and its sources kept clear of what mypyc compiles differently from Python."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apimgen.simulate import native

PURE = os.environ.get(native.PURE_ENV, "") not in ("", "0")
BUILTINS = {"list", "dict", "str", "int", "float", "tuple", "set", "bytes", "datetime", "timedelta"}


def _trees() -> list[tuple[Path, ast.Module]]:
    return [
        (native.source_path(module), ast.parse(native.source_path(module).read_text()))
        for module in native.COMPILED_MODULES
    ]


def test_every_compiled_module_has_its_source() -> None:
    assert all(native.source_path(module).is_file() for module in native.COMPILED_MODULES)


def test_builtin_subclasses_stay_python_classes() -> None:
    """A native class cannot subclass most builtins; one that compiles anyway (a datetime
    subclass) crashes the interpreter when freed."""
    offenders = [
        f"{path.name}:{node.lineno} {node.name}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).split("[")[0] in BUILTINS for base in node.bases)
        and not any("native_class=False" in ast.unparse(d) for d in node.decorator_list)
    ]
    assert offenders == []


def test_one_exception_type_per_caught_name() -> None:
    """Compiled, ``except A as error`` then ``except B as error`` in one function types
    ``error`` as A, and the second handler fails with a TypeError."""
    offenders = []
    for path, tree in _trees():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            caught: dict[str, set[str]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type is not None:
                    caught.setdefault(node.name, set()).add(ast.unparse(node.type))
            offenders += [
                f"{path.name}:{function.lineno} {name}"
                for name, types in caught.items()
                if len(types) > 1
            ]
    assert offenders == []


def test_no_int_or_float_annotation() -> None:
    """mypy reads ``int | float`` as float, and compiled code turns an int passed as one into
    a float: C#'s 7 / 2 would give 3.5. Such values are annotated ``Number``."""
    offenders = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                annotations = [a.annotation for a in arguments] + [node.returns]
            elif isinstance(node, ast.AnnAssign):
                annotations = [node.annotation]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno}"
                for annotation in annotations
                if annotation is not None
                and any(pair in ast.unparse(annotation) for pair in ("int | float", "float | int"))
            ]
    assert offenders == []


def test_no_submodule_imported_by_from_inside_a_function() -> None:
    """Compiled, ``from package import module`` inside a function gives None when the module
    was not imported yet; ``from package.module import name`` works."""
    offenders = [
        f"{path.name}:{node.lineno} {node.module}.{alias.name}"
        for path, tree in _trees()
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if importlib.util.find_spec(node.module) is not None
        and importlib.util.find_spec(node.module).submodule_search_locations  # type: ignore[union-attr]
        and importlib.util.find_spec(f"{node.module}.{alias.name}") is not None
    ]
    assert offenders == []


@pytest.mark.skipif(PURE, reason="this run asks for the pure-Python simulator")
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: nothing is compiled")
def test_the_install_compiles_the_simulator() -> None:
    assert native.built(), "stale or missing compiled simulator: run `make native`"
    assert native.compiled()


def test_an_install_without_a_compiler_keeps_python_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(native, "built", lambda: False)
    monkeypatch.setattr(native, "build", lambda: pytest.fail("built without a compiler"))
    monkeypatch.setenv("CC", "no-such-compiler")
    native.build_if_needed()
    assert "no C compiler (cc): the simulator stays pure Python" in capsys.readouterr().out


def test_a_failed_build_is_cleaned_away_and_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cleaned: list[bool] = []

    def failing() -> None:
        raise SystemExit("error: command 'cc' failed")  # as setuptools reports it

    monkeypatch.setattr(native, "built", lambda: False)
    monkeypatch.setattr(native, "build", failing)
    monkeypatch.setattr(native, "clean", lambda: cleaned.append(True))
    monkeypatch.setenv("CC", sys.executable)  # any program found on the path
    native.build_if_needed()
    assert cleaned == [True]
    assert "compiling the simulator failed (error: command 'cc' failed)" in capsys.readouterr().out


def _python(code: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env={**os.environ, **env},
    )


WHERE = "import apimgen.simulate.engine as e, apimgen.simulate.expr.values as v; print(e.__file__)"


def test_pure_python_can_be_asked_for() -> None:
    done = _python(WHERE, **{native.PURE_ENV: "1"})
    assert done.stdout.strip().endswith("engine.py")
    assert done.stderr == ""


@pytest.mark.slow
@pytest.mark.skipif(not native.built(), reason="the simulator is not compiled here")
def test_a_stale_build_runs_the_sources_and_says_so(tmp_path: Path) -> None:
    """A copy of the built package whose one compiled source then changes."""
    shutil.copytree(native.PACKAGE_ROOT / "apimgen", tmp_path / "apimgen")
    for shared in native.PACKAGE_ROOT.glob("*__mypyc.*"):
        shutil.copy(shared, tmp_path)
    fresh = _python(WHERE, tmp_path, **{native.PURE_ENV: ""})
    assert not fresh.stdout.strip().endswith(".py")
    assert fresh.stderr == ""
    values = tmp_path / "apimgen" / "simulate" / "expr" / "values.py"
    values.write_text(values.read_text() + "\n# changed\n")
    stale = _python(WHERE, tmp_path, **{native.PURE_ENV: ""})
    assert stale.stdout.strip() == str(tmp_path / "apimgen" / "simulate" / "engine.py")
    assert "older than 1 of its sources (values.py first)" in stale.stderr
    assert "`make native` rebuilds it" in stale.stderr
