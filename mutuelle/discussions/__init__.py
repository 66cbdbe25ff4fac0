"""Discussions between professionals on datasets, indicators and scenarios."""
