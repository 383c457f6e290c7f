"""``apimgen import``: a live gateway read back into a spec (``to_spec``), with a summary of
what was mapped, kept as written or left out (``summary``), written all at once (``write``)."""
