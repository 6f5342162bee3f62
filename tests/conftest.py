"""Shared pytest fixtures: reference data paths and manifest access."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(__file__).resolve().parent / "fixtures" / "reference"

# Tests import the project as the scripts do: from the repository root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def reference_dir():
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def manifest():
    with open(REFERENCE_DIR / "state_dict_manifest.json") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def repo_root():
    return ROOT
