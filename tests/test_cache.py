"""The per-user cache: used when it can be, rebuilt when damaged, never required."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apimgen.cache import cache_dir, cached_pickle


def test_a_value_is_built_once_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(tmp_path))
    built: list[int] = []

    def build() -> dict[str, int]:
        built.append(1)
        return {"answer": 42}

    assert cached_pickle("thing-v1.pickle", build) == {"answer": 42}
    assert cached_pickle("thing-v1.pickle", build) == {"answer": 42}
    assert built == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["thing-v1.pickle"], "no temporary left over"


def test_a_damaged_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(tmp_path))
    (tmp_path / "thing-v1.pickle").write_bytes(b"\x80\x05 cut short")
    assert cached_pickle("thing-v1.pickle", lambda: [1, 2]) == [1, 2]
    assert cached_pickle("thing-v1.pickle", lambda: [3]) == [1, 2], "the rebuilt value was kept"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_cache_only_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(locked / "apimgen"))
    assert cache_dir() is None
    assert cached_pickle("thing.pickle", lambda: "built") == "built"


def test_a_cache_path_that_is_a_file_only_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(blocker / "apimgen"))
    assert cache_dir() is None
    assert cached_pickle("thing.pickle", lambda: "built") == "built"


def test_the_default_place_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APIMGEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "apimgen"


def test_the_parser_tables_tokenizer_ranks_and_counts_are_kept_between_runs(
    tmp_path: Path,
) -> None:
    code = (
        "import sys\n"
        "from apimgen.simulate.expr.compiler import compile_expression\n"
        "from apimgen.simulate.tokenizer import count_tokens\n"
        "print(compile_expression('@(context.User.Id)').text, count_tokens(sys.argv[1]),"
        " 'tiktoken' in sys.modules)\n"
    )
    env = {**os.environ, "APIMGEN_CACHE_DIR": str(tmp_path)}

    def run(text: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code, text], capture_output=True, text=True, check=True, env=env
        ).stdout

    assert run("hello world") == "@(context.User.Id) 2 True\n"
    assert {p.name for p in tmp_path.iterdir()} == {
        "csharp-lark.cache",
        "o200k_base-446a9538cb6c348e.pickle",
        "o200k_base-counts-446a9538cb6c348e.pickle",
    }
    # A text counted before is answered from the cache without building the tokenizer;
    # a new one builds it and counts as tiktoken does.
    assert run("hello world") == "@(context.User.Id) 2 False\n"
    assert run("hello there, world") == "@(context.User.Id) 4 True\n"


def test_a_damaged_count_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from apimgen.simulate import tokenizer

    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(tmp_path))
    (tmp_path / tokenizer.COUNTS_CACHE).write_bytes(b"not a pickle")
    code = "from apimgen.simulate.tokenizer import count_tokens; print(count_tokens('hello'))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stdout == "1\n" and done.stderr == ""


def test_an_overgrown_count_cache_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    from apimgen.simulate import tokenizer

    monkeypatch.setenv("APIMGEN_CACHE_DIR", str(tmp_path))
    path = tmp_path / tokenizer.COUNTS_CACHE
    path.write_bytes(pickle.dumps({f"{n:032x}": 1 for n in range(50_000)}))
    code = "from apimgen.simulate.tokenizer import count_tokens; print(count_tokens('hello'))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stdout == "1\n"
    assert len(pickle.loads(path.read_bytes())) == 1, "only what this run counted is kept"
