"""The whole Bobby Camera system on one machine: a broker, the agents and a real Home Assistant.

Used by `scripts/run` (the README's demo command) and by the end-to-end test in `tests/e2e`.
"""
