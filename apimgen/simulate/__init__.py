"""The policy simulator. Its hot path may run compiled (native.py): the guard below decides,
before any of those modules is imported, whether the built extensions match their sources."""

import sys

from apimgen.simulate.native import guard

_fallback = guard()
if _fallback:
    sys.stderr.write(f"apimgen: note: {_fallback}\n")
