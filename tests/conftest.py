"""Shared pytest fixtures: reference data paths, manifest access, a one-thread torch."""
import json
import sys
from pathlib import Path

import pytest
import torch

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


@pytest.fixture
def one_thread():
    """Run a test with one torch thread: on CI's 2 shared cores, spinning OpenMP threads of
    several processes (scripts run as subprocesses, loader workers) slow everything down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def cpu_ext():
    """FlowNet2's compiled CPU ops, built (or loaded from flownet2/ops/_build) once per session.
    A failed build fails the tests that need it: CI has g++."""
    from flownet2.ops import _build

    return _build.build_extension(device="cpu")
