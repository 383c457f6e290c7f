"""The live-instance fixture of the plan/apply tests, for the commands the docs show."""

from tests.deploy.conftest import live

__all__ = ["live"]
