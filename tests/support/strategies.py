"""Hypothesis strategies shared by the protocol's and the integration's property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(*, container_size: int, key_size: int, max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON-like value, NaN and infinities included (the protocol must refuse them)."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=container_size)
            | st.dictionaries(st.text(max_size=key_size), children, max_size=container_size)
        ),
        max_leaves=max_leaves,
    )
