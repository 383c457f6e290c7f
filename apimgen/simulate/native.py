"""The simulator's hot path compiled to C with mypyc, and the guard that keeps it honest.

A simulated request runs through a few hundred Python-level calls (context objects, handlers,
the expression runtime); compiled with mypyc, the same source runs about twice as fast, with
no second implementation to keep in step. ``make native`` builds the extensions in place
(``build_if_needed``) and records a hash of every source it compiled. On import the package
compares those hashes with the sources: an edited source, a checkout of another commit, or
``APIMGEN_PURE_PYTHON=1`` makes the whole set load from its ``.py`` files instead (compiled
and interpreted classes cannot mix), so what runs is always what the source says. Without a
build, nothing changes: Python imports the sources as usual.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "build", "build_if_needed", "built", "clean", "compiled", "guard"]

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding apimgen/
MANIFEST = Path(__file__).with_name("native.json")
BUILD_DIR = PACKAGE_ROOT / "build" / "native"  # generated C and objects
PURE_ENV = "APIMGEN_PURE_PYTHON"

# What every simulated request runs through. Modules only used to read a policy (the
# expression parser, its syntax tree) or a scenario (pydantic models) stay interpreted.
COMPILED_MODULES: tuple[str, ...] = (
    "apimgen.simulate.assembly",
    "apimgen.simulate.backends",
    "apimgen.simulate.callers",
    "apimgen.simulate.context",
    "apimgen.simulate.engine",
    "apimgen.simulate.folding",
    "apimgen.simulate.results",
    "apimgen.simulate.run",
    "apimgen.simulate.state",
    "apimgen.simulate.timeline",
    "apimgen.simulate.traffic",
    "apimgen.simulate.expr.collections",
    "apimgen.simulate.expr.compiler",
    "apimgen.simulate.expr.dates",
    "apimgen.simulate.expr.dictionaries",
    "apimgen.simulate.expr.environment",
    "apimgen.simulate.expr.errors",
    "apimgen.simulate.expr.expressions",
    "apimgen.simulate.expr.hashing",
    "apimgen.simulate.expr.jwt",
    "apimgen.simulate.expr.linq",
    "apimgen.simulate.expr.members",
    "apimgen.simulate.expr.numbers",
    "apimgen.simulate.expr.objects",
    "apimgen.simulate.expr.operators",
    "apimgen.simulate.expr.regexes",
    "apimgen.simulate.expr.statements",
    "apimgen.simulate.expr.statics",
    "apimgen.simulate.expr.timezones",
    "apimgen.simulate.expr.typesystem",
    "apimgen.simulate.expr.values",
    "apimgen.simulate.policy.handlers",
    "apimgen.simulate.policy.handlers.authentication",
    "apimgen.simulate.policy.handlers.base",
    "apimgen.simulate.policy.handlers.caching",
    "apimgen.simulate.policy.handlers.control",
    "apimgen.simulate.policy.handlers.flow",
    "apimgen.simulate.policy.handlers.http",
    "apimgen.simulate.policy.handlers.limits",
    "apimgen.simulate.policy.handlers.response_cache",
    "apimgen.simulate.policy.handlers.routing",
    "apimgen.simulate.policy.handlers.security",
    "apimgen.simulate.policy.handlers.semantic_cache",
    "apimgen.simulate.policy.handlers.send_request",
    "apimgen.simulate.policy.handlers.tokens",
    "apimgen.simulate.policy.handlers.validation",
)


def source_path(module: str) -> Path:
    """The ``.py`` file of a module in COMPILED_MODULES (a package's ``__init__.py``)."""
    path = PACKAGE_ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _extension(module: str) -> Path | None:
    """The compiled extension Python would import for ``module``, if one was built."""
    source = source_path(module)
    folder, stem = source.parent, source.stem
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return None


def stale_modules() -> list[str]:
    """Modules whose compiled extension no longer matches its source (or was never
    recorded): importing any of them compiled would run code the source no longer says."""
    try:
        recorded: dict[str, str] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    return [
        module
        for module in COMPILED_MODULES
        if _extension(module) is not None and recorded.get(module) != _digest(source_path(module))
    ]


class _SourceFinder:
    """Finds the compiled modules' sources ahead of their extensions. (A meta-path finder needs
    only ``find_spec``; importlib.abc would add 20 ms to every start.)"""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES:
            return None
        source = source_path(fullname)
        locations = [str(source.parent)] if source.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            fullname, source, submodule_search_locations=locations
        )


def guard() -> str | None:
    """Called before any compiled module is imported: when the extensions cannot be trusted
    (or pure Python is asked for) every compiled module loads from source. Returns why, for
    a warning, when the fallback follows a stale build rather than a request."""
    if any(isinstance(finder, _SourceFinder) for finder in sys.meta_path):
        return None
    pure = os.environ.get(PURE_ENV, "") not in ("", "0")
    stale = [] if pure else stale_modules()
    if not pure and not stale:
        return None
    sys.meta_path.insert(0, _SourceFinder())
    if pure:
        return None
    return (
        f"the compiled simulator is older than {len(stale)} of its sources "
        f"({source_path(stale[0]).name} first); running them as Python — "
        "`make native` rebuilds it"
    )


def compiled() -> bool:
    """Whether the simulator's hot path runs compiled in this process."""
    from apimgen.simulate import engine

    return not str(engine.__file__).endswith(".py")


def build(opt_level: str = "3", *, separate: bool = False) -> None:
    """Compile COMPILED_MODULES in place and record their sources' hashes. ``separate``
    makes one extension per module, which rebuilds only what changed (for working on the
    simulator); the default, one shared library, runs a little faster."""
    clean()
    # From scratch every time: mypy's incremental cache can leave one module's C calling
    # another's by a name that module no longer exports.
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    sources = [str(source_path(module).relative_to(PACKAGE_ROOT)) for module in COMPILED_MODULES]
    was = Path.cwd()
    os.chdir(PACKAGE_ROOT)  # mypyc and setuptools name what they build from the working folder
    try:
        _compile(sources, opt_level, separate)
    finally:
        os.chdir(was)
    manifest = {module: _digest(source_path(module)) for module in COMPILED_MODULES}
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _compile(sources: list[str], opt_level: str, separate: bool) -> None:
    from mypyc.build import mypycify  # the build needs mypy; running never does
    from setuptools import setup  # type: ignore[import-untyped]

    target = str(BUILD_DIR.relative_to(PACKAGE_ROOT))
    extensions = mypycify(sources, opt_level=opt_level, separate=separate, target_dir=target)
    setup(
        ext_modules=extensions,
        packages=[],  # only the extensions: no package discovery
        script_args=[
            "build_ext",
            "--inplace",
            "--build-temp",
            f"{target}/objects",
            "--parallel",
            str(os.cpu_count() or 1),
        ],
    )


def built() -> bool:
    """Whether every module in COMPILED_MODULES has an extension matching its source."""
    return all(_extension(module) for module in COMPILED_MODULES) and not stale_modules()


def build_if_needed() -> None:
    """``make native``'s step: build unless an up-to-date build is there. A machine without a
    C compiler (or a failed build) keeps the pure-Python simulator, said once, loudly, and the
    install itself succeeds."""
    if built():
        return
    if shutil.which(os.environ.get("CC", "cc")) is None:
        print("apimgen: no C compiler (cc): the simulator stays pure Python, about half as fast")
        return
    print("apimgen: compiling the simulator's hot path with mypyc (a minute or two)")
    try:
        build()
    except (Exception, SystemExit) as error:  # setuptools reports a failed compile by exiting
        clean()
        print(f"apimgen: compiling the simulator failed ({error}); it stays pure Python")


def clean() -> None:
    """Remove every built extension and the manifest: the simulator runs as Python."""
    MANIFEST.unlink(missing_ok=True)
    for module in COMPILED_MODULES:
        while (extension := _extension(module)) is not None:
            extension.unlink()
        source = source_path(module)  # a separate build's per-module library
        for shared in source.parent.glob(f"{source.stem}__mypyc.*"):
            shared.unlink()
    for shared in PACKAGE_ROOT.glob("*__mypyc.*"):  # the shared library of a whole build
        shared.unlink()
