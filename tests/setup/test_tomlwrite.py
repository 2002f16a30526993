"""The TOML writer: what it writes, tomllib reads back unchanged."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockauth.setup.tomlwrite import dumps, key, string

SCALARS = (
    st.text()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)
TABLE = st.dictionaries(st.text(), VALUES, max_size=4)
DOCS = st.dictionaries(
    st.text(min_size=1),
    VALUES | TABLE | st.lists(TABLE, min_size=1, max_size=3),
    max_size=5,
)


@given(DOCS)
def test_what_is_written_reads_back_the_same(doc: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(doc)) == doc


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("plain", '"plain"'),
        ('a "quote" \\ back', '"a \\"quote\\" \\\\ back"'),
        ("tab\tnew\nline", '"tab\\tnew\\nline"'),
        ("bell\x07 del\x7f", '"bell\\u0007 del\\u007f"'),
        ("café ✓", '"café ✓"'),
    ],
)
def test_strings_escape_only_what_toml_needs(text: str, written: str) -> None:
    assert string(text) == written


def test_keys_are_bare_when_they_can_be() -> None:
    assert key("client_id") == "client_id"
    assert key("https://api.example.com") == '"https://api.example.com"'
    assert key("") == '""'


def test_arrays_of_tables_write_their_tables_as_sub_tables() -> None:
    text = dumps({"apps": [{"name": "A", "apis": {"https://x.test": ["read"]}, "claims": {}}]})
    assert text == '[[apps]]\nname = "A"\nclaims = {}\n\n[apps.apis]\n"https://x.test" = ["read"]\n'
