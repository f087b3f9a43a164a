"""Scratch directories for PostgreSQL servers of a test's own."""

import contextlib
import shutil
import tempfile


@contextlib.contextmanager
def pg_scratch_dir(prefix):
    """A directory for PostgreSQL servers, outside pytest's basetemp, removed
    afterwards.

    As root, the servers' files belong to the postgres user, who must be able
    to traverse every parent directory; pytest takes group/other permissions
    off /tmp/pytest-of-<user> whenever any pytest session starts, which would
    lock that user out of servers still running."""
    root = tempfile.mkdtemp(prefix=prefix)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
