"""Find apimgen's bundled `templates/` and `policies/` folders, installed or in a checkout.

In a wheel they live at ``apimgen/_bundled/`` (hatch ``force-include``); in an editable
install they are the top-level folders of the checkout. ``importlib.resources`` finds the first,
the checkout layout the second, so both work without configuration.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["builtin_fragment_names", "bundled_dir", "fragment_dir", "template_dir"]


@cache
def bundled_dir(name: str) -> Path:
    """The directory of bundled data ``name`` ('templates' or 'policies')."""
    packaged = resources.files("apimgen").joinpath("_bundled", name)
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"apimgen's bundled '{name}' folder is missing; reinstall apimgen")


def template_dir() -> Path:
    return bundled_dir("templates")


def fragment_dir() -> Path:
    """Built-in policy fragments users can include by name."""
    return bundled_dir("policies") / "fragments"


@cache
def builtin_fragment_names() -> frozenset[str]:
    return frozenset(p.stem for p in fragment_dir().glob("*.xml"))
