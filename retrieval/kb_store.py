"""The knowledge-base store: documents, passages, their search-text vectors and an FTS5
index in one SQLite file beside the FAISS index (`index/kb.sqlite`).

Row ids are FAISS ids: a vector's id in the `vectors` table is its id in the FAISS index,
and ids are AUTOINCREMENT, never reused, so an index loaded a moment before a delete can
only point at rows that are gone (and are skipped), never at the wrong passage.
`generation` in the `meta` table names the FAISS file that matches the rows.

Concurrency: one writer at a time holds SQLite's write lock for its whole change (BEGIN
IMMEDIATE); readers keep reading the committed state meanwhile and wait only for the
commit itself (milliseconds: the writer's page cache is large enough not to spill). The
store uses SQLite's rollback journal, not WAL, on purpose: a WAL database cannot be read
from a read-only folder (readers must create its `-shm` file), and the server reads model
directories from read-only mounts (docker/compose.yml); readers open the file read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np
import sqlite_utils

from supportbot.errors import ModelError

STORE_FILE = "index/kb.sqlite"
BUSY_SECONDS = 60
WRITER_CACHE_KIB = 512 * 1024
"""A writer's changes stay in memory until commit, so readers are not locked out earlier."""
PASSAGE_COLUMNS = ("kind", "title", "answer", "source", "question", "url", "key")
FTS_COLUMNS = ["title", "question", "answer"]
_SCHEMA = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    kind TEXT NOT NULL, title TEXT NOT NULL, answer TEXT NOT NULL, source TEXT NOT NULL,
    question TEXT, url TEXT, key TEXT
);
CREATE INDEX passages_document ON passages(document_id);
CREATE INDEX passages_answer ON passages(answer);
CREATE TABLE vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX vectors_passage ON vectors(passage_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class DocumentInfo:
    """One row of `supportbot kb list`."""

    name: str
    origin: str
    """"training" (built by `supportbot train`) or "added" (by `supportbot kb add`)."""
    format: str
    path: str
    added_at: str
    passages: int


@dataclass
class NewDocument:
    """A document ready to store: passages as row dicts (PASSAGE_COLUMNS), and for each
    passage its search texts with one vector per text."""

    name: str
    origin: str
    format: str
    path: str
    passages: list[dict]
    texts: list[list[str]]
    vectors: np.ndarray


class KnowledgeStore:
    """One connection to the store; safe to share between threads (calls are serialised)."""

    def __init__(self, model_dir: Path, create: bool = False, readonly: bool = False):
        self.model_dir = Path(model_dir)
        self.path = self.model_dir / STORE_FILE
        if not create and not self.path.is_file():
            raise ModelError(f"{self.model_dir}: {STORE_FILE} missing")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = f"file:{quote(str(self.path.resolve()))}?mode=ro" if readonly else str(self.path)
        try:
            conn = sqlite3.connect(
                target,
                timeout=BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                uri=readonly,
            )
            self.db = sqlite_utils.Database(conn)
            if create:
                self._create_schema()
            elif not self.db["meta"].exists():
                raise ModelError(f"{self.path}: not a supportbot knowledge-base store")
        except sqlite3.DatabaseError as exc:
            raise ModelError(f"{self.path}: cannot read the knowledge-base store ({exc})") from exc
        if not readonly:
            self.db.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")

    def _create_schema(self) -> None:
        self.db.execute("PRAGMA journal_mode = DELETE")
        self.db.conn.executescript(_SCHEMA)
        self.db.table("passages").enable_fts(FTS_COLUMNS, create_triggers=True, tokenize="porter")

    def close(self) -> None:
        self.db.close()

    # --- meta -----------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, values: dict[str, object]) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(key, str(value)) for key, value in values.items()],
        )

    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction holding SQLite's write lock from the start, so two writers
        never interleave their read-modify-write of the FAISS index. A store that cannot be
        written (read-only folder, another writer past the busy timeout) is a ModelError."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ModelError(f"{self.path}: cannot change the knowledge base ({exc})") from exc
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError | OSError):
                raise ModelError(f"{self.path}: cannot change the knowledge base ({exc})") from exc
            raise

    # --- documents ------------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        rows = self.db.execute(
            "SELECT d.name, d.origin, d.format, d.path, d.added_at, COUNT(p.id) FROM documents d "
            "LEFT JOIN passages p ON p.document_id = d.id GROUP BY d.id ORDER BY d.name"
        )
        return [DocumentInfo(*row) for row in rows]

    def passages_of(self, name: str) -> list[dict]:
        """A document's passages as rows (PASSAGE_COLUMNS), in the order they were added."""
        columns = ", ".join(f"p.{c}" for c in PASSAGE_COLUMNS)
        rows = self.db.execute(
            f"SELECT {columns} FROM passages p JOIN documents d ON d.id = p.document_id "
            "WHERE d.name = ? ORDER BY p.id",
            [name],
        )
        return [dict(zip(PASSAGE_COLUMNS, row, strict=True)) for row in rows]

    def document_names(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM documents")}

    def insert_document(self, document: NewDocument) -> tuple[np.ndarray, np.ndarray]:
        """Rows for one document; returns (vector ids, vectors) to add to the FAISS index."""
        added_at = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = self.db.execute(
            "INSERT INTO documents (name, origin, format, path, added_at) VALUES (?, ?, ?, ?, ?)",
            [document.name, document.origin, document.format, document.path, added_at],
        )
        document_id = cursor.lastrowid
        passage_ids = self._insert_rows(
            "passages",
            ["document_id", *PASSAGE_COLUMNS],
            ([document_id, *(p.get(c) for c in PASSAGE_COLUMNS)] for p in document.passages),
            len(document.passages),
        )
        owners = [
            pid for pid, texts in zip(passage_ids, document.texts, strict=True) for _ in texts
        ]
        texts = [text for texts in document.texts for text in texts]
        vectors = np.ascontiguousarray(document.vectors, dtype=np.float32)
        vector_ids = self._insert_rows(
            "vectors",
            ["passage_id", "text", "vector"],
            zip(owners, texts, (v.tobytes() for v in vectors), strict=True),
            len(texts),
        )
        return np.asarray(vector_ids, dtype=np.int64), vectors

    def _insert_rows(self, table: str, columns: list[str], rows: Iterable, count: int) -> list[int]:
        """Bulk insert with ids assigned from the AUTOINCREMENT sequence, so the caller knows
        them without a round trip per row (the write lock is held, nobody else inserts)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
        first = (row[0] if row else 0) + 1
        ids = list(range(first, first + count))
        placeholders = ", ".join("?" * (len(columns) + 1))
        self.db.conn.executemany(
            f"INSERT INTO {table} (id, {', '.join(columns)}) VALUES ({placeholders})",
            ([row_id, *values] for row_id, values in zip(ids, rows, strict=True)),
        )
        return ids

    def delete_document(self, name: str) -> list[int]:
        """Delete a document and its rows; returns its vector ids, to remove from FAISS."""
        row = self.db.execute("SELECT id FROM documents WHERE name = ?", [name]).fetchone()
        if row is None:
            return []
        passages = "SELECT id FROM passages WHERE document_id = ?"
        vector_ids = [
            r[0]
            for r in self.db.execute(
                f"SELECT id FROM vectors WHERE passage_id IN ({passages})", row
            )
        ]
        self.db.execute(f"DELETE FROM vectors WHERE passage_id IN ({passages})", row)
        self.db.execute("DELETE FROM passages WHERE document_id = ?", row)
        self.db.execute("DELETE FROM documents WHERE id = ?", row)
        return vector_ids

    # --- reading --------------------------------------------------------------------------

    def counts(self) -> tuple[int, int, int]:
        """(documents, passages, vectors)."""
        return tuple(
            self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("documents", "passages", "vectors")
        )

    def all_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every stored vector, to rebuild the FAISS index from."""
        ids, blobs = [], []
        for vector_id, blob in self.db.execute("SELECT id, vector FROM vectors ORDER BY id"):
            ids.append(vector_id)
            blobs.append(blob)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dimension)
        return np.asarray(ids, dtype=np.int64), vectors

    def vector_owners(self, vector_ids: Iterable[int]) -> dict[int, int]:
        """vector id -> passage id, for the ids that still exist."""
        return dict(self._in("SELECT id, passage_id FROM vectors WHERE id IN ({})", vector_ids))

    def passage_vectors(self, passage_ids: Iterable[int], dimension: int):
        """(passage id per vector, vectors) of the given passages' search texts."""
        rows = self._in(
            "SELECT passage_id, vector FROM vectors WHERE passage_id IN ({})", passage_ids
        )
        owners = np.asarray([r[0] for r in rows], dtype=np.int64)
        data = b"".join(r[1] for r in rows)
        return owners, np.frombuffer(data, dtype=np.float32).reshape(-1, dimension)

    def passages(self, passage_ids: Iterable[int]) -> dict[int, dict]:
        columns = ", ".join(PASSAGE_COLUMNS)
        rows = self._in(f"SELECT id, {columns} FROM passages WHERE id IN ({{}})", passage_ids)
        return {row[0]: dict(zip(PASSAGE_COLUMNS, row[1:], strict=True)) for row in rows}

    def passage_with_answer(self, answer: str) -> dict | None:
        """The first passage giving exactly this answer (indexed in stores created since
        knowledge-base classes; older stores scan)."""
        columns = ", ".join(PASSAGE_COLUMNS)
        row = self.db.execute(
            f"SELECT {columns} FROM passages WHERE answer = ? ORDER BY id LIMIT 1", [answer]
        ).fetchone()
        return dict(zip(PASSAGE_COLUMNS, row, strict=True)) if row else None

    def lexical(self, match: str, depth: int) -> list[tuple[int, float]]:
        """(passage id, BM25 score, higher is better) of the best FTS5 matches."""
        rows = self.db.execute(
            "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? "
            "ORDER BY bm25(passages_fts) LIMIT ?",
            [match, depth],
        )
        return [(int(pid), float(score)) for pid, score in rows]

    def _in(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        return self.db.execute(sql.format(", ".join("?" * len(ids))), ids).fetchall()
