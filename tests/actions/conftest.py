"""Fixtures for the action tests: the demo bank on a private FerretDB, and tracker builders."""

from __future__ import annotations

from tests.bank_support import backend, bank_db, ferretdb_uri, mongo_client

__all__ = ["backend", "bank_db", "ferretdb_uri", "mongo_client"]
