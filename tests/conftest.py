import pytest

from tests.support.procs import ProcGroup


@pytest.fixture
def procs(tmp_path):
    """Real processes started by the test; all stopped by PID at teardown, pass or fail."""
    group = ProcGroup(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
