"""Fixtures more than one test module uses."""

import json

import pytest

from helpers import PROJECTED


@pytest.fixture
def projected(tmp_path):
    """A projected cell's config file (helpers.PROJECTED)."""
    path = tmp_path / "proj.json"
    path.write_text(json.dumps(PROJECTED))
    return str(path)
