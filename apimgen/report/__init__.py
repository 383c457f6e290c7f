"""Simulation reports: PNG charts and one self-contained HTML page."""
