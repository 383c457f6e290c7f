"""The live-instance fixture of the plan/apply tests, for the CI recipe tests."""

from tests.deploy.conftest import live

__all__ = ["live"]
