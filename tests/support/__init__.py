"""Helpers shared by every test lane (no Home Assistant imports here)."""
