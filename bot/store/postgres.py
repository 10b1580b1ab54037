"""PostgreSQL behind the small `sqlite_utils.Database` subset the stores use.

The stores were written against SQLite; rather than two copies of every store, a
`PostgresDatabase` offers the same calls (`execute`, `query`, `atomic`, `executescript`,
`conn`, `table_names`, `db[table].exists()`, `.columns_dict`) over one psycopg 3 sync
connection, so each store keeps its one worker thread and one connection. The SQL in the
stores is written so both engines accept it; the only run-time rewrite is the placeholder
style (`?` and `:name` become `%s` and `%(name)s`) and `RETURNING id` on inserts into
tables with a serial id, so `cursor.lastrowid` means what it means in sqlite3.

The connection runs in autocommit mode: a statement outside `atomic()` / `with db.conn:`
commits by itself (sqlite3's implicit transactions plus the caller's commit end the same
way); `atomic()` is a transaction, nested ones are savepoints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from supportbot.errors import SupportbotError

_TOKENS = re.compile(
    r"""'(?:[^']|'')*'        # a string literal: left as it is
      | "(?:[^"]|"")*"        # a quoted identifier
      | --[^\n]*              # a line comment
      | ::                    # a PostgreSQL cast, not a named parameter
      | \?                    # a positional parameter
      | (?<![:\w]):([A-Za-z_]\w*)  # a named parameter
      | %                     # a literal percent sign, doubled for psycopg
    """,
    re.VERBOSE,
)

_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)


def translate_placeholders(sql: str) -> str:
    """sqlite3's `?` and `:name` as psycopg's `%s` and `%(name)s`; `%` doubled; string
    literals, quoted identifiers, comments and `::` casts untouched."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(replace, sql)


def is_postgres_url(location: object) -> bool:
    """True for a `postgresql://` (or `postgres://`) URL, False for a SQLite path."""
    return str(location).startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, for messages and logs."""
    return re.sub(r"^(\w+://[^:/@]*):[^@]*@", r"\1:***@", url)


class PostgresCursor:
    """The sqlite3 cursor calls the stores use: fetchone/fetchall, lastrowid, rowcount."""

    def __init__(self, cursor: psycopg.Cursor, lastrowid: int | None):
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount

    @property
    def description(self):
        return self._cursor.description

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())


class PostgresConnection:
    """`db.conn`: commit/rollback/close/executemany, and `with db.conn:` as a transaction
    (psycopg's own `with connection:` would close the connection)."""

    def __init__(self, database: PostgresDatabase):
        self._database = database
        self._transactions: list[Any] = []

    @property
    def raw(self) -> psycopg.Connection:
        return self._database.raw

    def commit(self) -> None:
        """Statements outside a transaction have committed already (autocommit)."""

    def rollback(self) -> None:
        """Nothing to undo outside a transaction (autocommit); inside, the block raises."""

    def close(self) -> None:
        self.raw.close()

    def execute(self, sql: str, params: Any = None) -> PostgresCursor:
        return self._database.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(translate_placeholders(sql), list(rows))

    def __enter__(self) -> PostgresConnection:
        transaction = self.raw.transaction()
        transaction.__enter__()
        self._transactions.append(transaction)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._transactions.pop().__exit__(*exc_info)


class PostgresTable:
    def __init__(self, database: PostgresDatabase, name: str):
        self._database = database
        self.name = name

    def exists(self) -> bool:
        return self.name in self._database.table_names()

    @property
    def columns_dict(self) -> dict[str, str]:
        rows = self._database.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [self.name],
        ).fetchall()
        return {name: kind for name, kind in rows}


class PostgresDatabase:
    """One psycopg connection dressed as the `sqlite_utils.Database` subset the stores use."""

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = url
        try:
            self.raw = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SupportbotError(
                f"{redact_url(url)}: cannot connect to PostgreSQL ({message})"
            ) from exc
        if read_only:
            self.raw.execute("SET default_transaction_read_only = on")
        self.conn = PostgresConnection(self)
        self._serial_tables: set[str] | None = None

    def _serial(self) -> set[str]:
        """Tables whose `id` is filled by a sequence: their inserts return it."""
        if self._serial_tables is None:
            rows = self.raw.execute(
                "SELECT table_name FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND column_name = 'id' AND "
                "(column_default LIKE 'nextval(%%' OR is_identity = 'YES')"
            ).fetchall()
            self._serial_tables = {name for (name,) in rows}
        return self._serial_tables

    def execute(self, sql: str, params: Any = None) -> PostgresCursor:
        statement = translate_placeholders(sql)
        insert = _INSERT_INTO.match(sql)
        returning = bool(
            insert and insert.group(1) in self._serial() and "RETURNING" not in sql.upper()
        )
        if returning:
            statement = f"{statement.rstrip().rstrip(';')} RETURNING id"
        cursor = self.raw.cursor()
        cursor.execute(statement, _params(params))
        lastrowid = None
        if returning:
            row = cursor.fetchone()
            lastrowid = row[0] if row else None
        return PostgresCursor(cursor, lastrowid)

    def query(self, sql: str, params: Any = None) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))

    def executescript(self, script: str) -> None:
        """Run several statements (no parameters) in one transaction."""
        with self.raw.transaction():
            self.raw.execute(script.encode())
        self._serial_tables = None

    @contextmanager
    def atomic(self) -> Iterator[PostgresDatabase]:
        """A transaction; nested inside another, a savepoint (as sqlite_utils does)."""
        with self.raw.transaction():
            yield self

    def table_names(self) -> list[str]:
        rows = self.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE "
            "table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        return [name for (name,) in rows]

    def __getitem__(self, table: str) -> PostgresTable:
        return PostgresTable(self, table)

    def enable_wal(self) -> None:
        """PostgreSQL always writes ahead; nothing to switch on."""

    def close(self) -> None:
        self.raw.close()


def _params(params: Any) -> Any:
    if params is None:
        return None
    if isinstance(params, dict):
        return params
    return list(params)
