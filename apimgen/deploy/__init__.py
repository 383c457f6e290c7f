"""Comparing the spec with a live API Management instance and applying the difference."""
