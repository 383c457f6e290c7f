"""simulate --replay of a large Log Analytics export (the portal's CSV shape): wall time and
peak memory of a fresh process, for 100,000 logged calls by default (``--calls N``).

Fifty subscriptions call through a per-subscription token limit at a steady pace, so most
calls are let through and some are refused, as in a busy week's log.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("TimeGenerated", "CorrelationId", "ApimSubscriptionId", "OperationId", "ResponseCode",
           "BackendTime", "DeploymentName", "PromptTokens", "CompletionTokens",
           "IsStreamCompletion")  # fmt: skip


def write_export(path: Path, calls: int, per_second: float = 20.0) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(COLUMNS)
        for number in range(calls):
            when = start + timedelta(seconds=number / per_second)
            writer.writerow((
                when.isoformat().replace("+00:00", "Z"), f"c{number}", f"team-{number % 50}",
                "chat-completions", 200, 800, "gpt-4o", 120 + number % 80, 150 + number % 120,
                "False",
            ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    calls = parser.parse_known_args()[0].calls
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        export = root / "logs.csv"
        write_export(export, calls)
        spec = {
            "apimgen": 1,
            "gateway": {"name": "bench-gw", "resource_group": "rg", "location": "swedencentral",
                        "publisher_name": "b", "publisher_email": "b@example.com"},
            "backends": [{"name": "aoai", "url": "https://b.openai.azure.com/openai"}],
            "apis": [{"name": "openai", "path": "openai", "backend": "aoai",
                      "token_limits": [{"key": "subscription", "tokens_per_minute": 8000}]}],
        }  # fmt: skip
        (root / "gateway.yaml").write_text(yaml.safe_dump(spec))
        (root / "scenario.yaml").write_text(
            yaml.safe_dump(
                {
                    "apimgen_scenario": 1,
                    "policies": {"spec": "gateway.yaml"},
                    "duration": "1m",
                    "backends": {"aoai": {"tpm": 10_000_000}},
                    "consumers": [{"name": "x", "arrival": {"kind": "constant", "per_minute": 1}}],
                }
            )
        )
        code = (
            "import re, sys; from apimgen.cli.app import main; "
            f"sys.argv = ['apimgen', 'simulate', {str(root / 'scenario.yaml')!r}, "
            f"'--replay', {str(export)!r}, '-q']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "status = open('/proc/self/status').read(); "
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)"
        )
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        )
        elapsed = time.perf_counter() - start
    peak = int(re.findall(r"^(\d+)$", done.stdout, re.MULTILINE)[-1])
    hours = calls / 20 / 3600
    print(
        f"replay    {calls:,} logged calls ({hours:.1f} h of traffic) in {elapsed:.1f} s; "
        f"peak memory {peak} MB"
    )


if __name__ == "__main__":
    main()
