"""The statements every database connection runs first must work on MySQL 8 as well as MariaDB.

MySQL 8.0 removed the session variables `tx_isolation` and `tx_read_only` (and the query cache's), so a
connection that names one is refused there. MySQL 8 cannot run on this machine (no package, no container
engine); this checks the statements against its documented list of removed variables, and
tests/integration/test_db_session.py checks on the real MariaDB that they take effect."""

from __future__ import annotations

import re

from app.infrastructure.db import SESSION_SETUP

REMOVED_IN_MYSQL_8 = {"tx_isolation", "tx_read_only", "query_cache_size", "query_cache_type", "have_query_cache"}


def test_the_session_setup_names_no_variable_mysql_8_removed() -> None:
    words = set(re.findall(r"[a-z_@.]+", SESSION_SETUP.lower()))
    named = {w.split(".")[-1].lstrip("@") for w in words}
    assert not named & REMOVED_IN_MYSQL_8, SESSION_SETUP


def test_the_isolation_level_is_set_with_the_statement_both_servers_know() -> None:
    assert "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED" in SESSION_SETUP
    assert "SET time_zone = '+00:00'" in SESSION_SETUP
