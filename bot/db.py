"""Engine, sessions and schema migrations."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from asyncio import current_task
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    CompoundSelect,
    Delete,
    Dialect,
    Insert,
    Select,
    Update,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_POOL_SIZE = 5  # connections to a SQLite file; see create_engine
SERVER_POOL_SIZE = 10  # connections to PostgreSQL, per process; see create_engine


class SchemaError(Exception):
    """The database holds a schema this version of amu-bot does not know."""


class NotMigratedError(SchemaError):
    """The database exists but amu-bot has never migrated it (`amu-bot db upgrade` will)."""


# pg_advisory_xact_lock key for schema migrations: several `amu-bot run` processes starting at
# once would otherwise race to create the same tables. ("amu-mig" as an integer, any constant
# no other part of amu-bot locks on would do.)
MIGRATION_LOCK_KEY = 0x616D752D6D6967


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and for in-memory SQLite)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _check_sqlite_path(url: str) -> None:
    """Fail early, in plain words, where SQLite could not create its file.

    Found before connecting on purpose: a failed aiosqlite connect leaves a worker thread that
    reports to an event loop already closed, and the user would see a stray traceback.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder for the SQLite file does not exist: {folder}")


class _SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, minus the rollbacks and commits that have nothing to do.

    SQLAlchemy rolls back every connection it closes or returns to the pool, twice in fact
    (the connection's transaction, then the pool's reset), and with aiosqlite each rollback
    is a trip to the connection's worker thread and back, even after a read-only update.
    SQLite knows whether a transaction is open; when none is, there is nothing to roll back
    (or commit).
    """

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (something was written and not yet committed)."""
        conn = self._connection
        return conn is not None and conn.in_transaction

    async def rollback(self) -> None:
        """Roll back the open transaction, if there is one."""
        conn = self._connection
        if conn is not None and not conn.in_transaction:
            return
        await super().rollback()

    async def commit(self) -> None:
        """Commit the open transaction, if there is one."""
        conn = self._connection
        if conn is not None and not conn.in_transaction:
            return
        await super().commit()

    async def execute_and_commit(self, sql: str, parameters: Sequence[Any]) -> None:
        """One write and its commit in a single trip to the worker thread.

        The write lock is then held only while the thread runs the two, never across a turn
        of the event loop, where other updates' writers would wait on it (SQLite's busy
        handler waits in sleeps of 1, 2, 5, 10 … ms).
        """
        await self._execute(self._write_and_commit, sql, parameters)

    def _write_and_commit(self, sql: str, parameters: Sequence[Any]) -> None:
        self._conn.execute(sql, parameters)
        self._conn.commit()


def _sqlite_creator(url: str, connect_args: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    """What SQLAlchemy's aiosqlite dialect would connect with, as a `_SQLiteConnection`."""
    database = make_url(url).database or ":memory:"
    # `in_transaction` is read from the event loop's thread (it is a flag; no statement runs)
    # while aiosqlite runs every statement in its worker thread.
    args = {**connect_args, "check_same_thread": False}

    async def connect() -> aiosqlite.Connection:
        conn = _SQLiteConnection(partial(sqlite3.connect, database, **args), 64)
        conn._thread.daemon = True  # as SQLAlchemy does: never keep the process alive
        return await conn

    return connect


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        _check_sqlite_path(url)
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:" and "poolclass" not in kwargs:
            # Each aiosqlite connection is a thread of its own. Connections beyond the pool's
            # size are opened (with their PRAGMAs) and closed again for every use, and the more
            # threads take turns, the more they queue for the GIL. So: a fixed pool, handed
            # out last-in-first-out, so that the work stays on the one or two connections
            # used last and the others sleep; five, so that the outbox dispatcher and the
            # planner never leave updates without one. Measured with 32 updates in flight
            # (docs/benchmarks.md): SQLAlchemy's default 5 + 10 overflow 4.2-4.5 ms of CPU
            # per /dues, 8 connections 4.5-5.4 ms, 2 connections 3.2-3.3 ms.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_use_lifo", True)
        # A plain file path (URL options such as ?uri=true are left to SQLAlchemy's dialect).
        if (
            "async_creator" not in kwargs
            and parsed.get_driver_name() == "aiosqlite"
            and not parsed.query
        ):
            connect_args = kwargs.pop("connect_args", {"timeout": 30})
            kwargs["async_creator"] = _sqlite_creator(url, connect_args)
        else:
            kwargs.setdefault("connect_args", {"timeout": 30})
    elif "poolclass" not in kwargs:
        # A server database: the same fixed, last-in-first-out pool, larger. With 32 updates
        # in flight their database work overlaps (each waits on its round trips), and
        # SQLAlchemy's default of 5 + 10 overflow opened and closed 65-85 connections per
        # 3,000 updates (a connect is several round trips and the server's fork); updates
        # waiting a moment for a connection cost nothing.
        kwargs.setdefault("pool_size", SERVER_POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_use_lifo", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


class _UpdateScope:
    """One connection for the database work of one update, checked out when first needed."""

    __slots__ = ("_connection", "engine", "open_sessions", "task")

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.task = asyncio.current_task()
        self.open_sessions = 0
        self._connection: AsyncConnection | None = None

    async def connection(self) -> AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await self.engine.connect()
        return self._connection

    async def release(self, *, force: bool = False) -> None:
        """Give the connection back to the pool, unless a session is using it."""
        if self._connection is not None and (force or not self.open_sessions):
            connection, self._connection = self._connection, None
            await connection.close()


_scope: ContextVar[_UpdateScope | None] = ContextVar("amu_update_scope", default=None)


async def release_update_connection() -> None:
    """Give this update's connection back to the pool, if no session is using it.

    Called before network waits (every Bot API call); the next session of the update, if
    any, takes a connection again.
    """
    scope = _scope.get()
    if scope is not None and scope.task is current_task():
        await scope.release()


@dataclass
class Database:
    """The engine and the session factory, built once per process."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @asynccontextmanager
    async def update_scope(self) -> AsyncIterator[None]:
        """Within it, every `session()` of this task shares one connection, returned at the end.

        The access gate and the handler of an update then use one connection between them
        instead of taking one from the pool (and giving it back) each. Sessions still come
        and go one after another, each ending its own transaction; tasks started inside the
        scope get sessions of their own. The connection goes back to the pool as soon as
        the update's database work is done (a session closes without `keep_connection`),
        and at the latest before the update waits on the network (`release_update_connection`,
        called before every Bot API call), so an update never holds one while Telegram
        answers or while its reply is rendered.
        """
        scope = _UpdateScope(self.engine)
        token = _scope.set(scope)
        try:
            yield
        finally:
            _scope.reset(token)
            await scope.release(force=True)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        """Connect lazily to the database at `url`."""
        engine = create_engine(url, **kwargs)
        return cls(engine, async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False))

    @asynccontextmanager
    async def session(self, *, keep_connection: bool = False) -> AsyncIterator[AsyncSession]:
        """A session; commit is the caller's, rollback happens on error.

        Within an update (see `update_scope`) the session runs on the update's connection,
        which goes back to the pool when the session closes, unless `keep_connection` says
        another session follows at once (the access gate's, which the handler's follows).
        """
        scope = _scope.get()
        if scope is None or scope.engine is not self.engine or scope.task is not current_task():
            async with self.sessions() as session:
                yield session
            return
        connection = await scope.connection()
        scope.open_sessions += 1
        try:
            async with self.sessions(bind=connection) as session:
                yield session
        finally:
            scope.open_sessions -= 1
        if not keep_connection:
            await scope.release()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


_observers: list[Callable[[AsyncEngine | None, str], None]] = []


class Query:
    """A statement built and compiled once, then run straight on the driver: one round trip.

    For the statements every update makes. SQLAlchemy's ORM and Core add per call what these
    do not need (a cache key, a result object) and, with aiosqlite, four trips to the worker
    thread per query (cursor, execute, fetch, close) where one will do. Rows come back as
    tuples converted by the columns' own types (SQLite's dates, aware UTC datetimes), and
    parameters, named `bindparam`s, are converted the same way. Drivers other than aiosqlite
    and asyncpg go through the session, with the same result.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select | CompoundSelect | Update | Insert | Delete) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
        )
        columns = getattr(self.statement, "selected_columns", ())
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        return _Compiled(
            sql=compiled.string,
            names=names,
            defaults={n: compiled.binds[n].value for n in names},
            binds=binds if any(binds) else None,
            results=tuple((i, p) for i, p in enumerate(results) if p is not None),
        )

    async def _prepare(self, session: AsyncSession, params: dict[str, Any]) -> _Run | None:
        conn = await session.connection()
        driver = conn.dialect.driver
        if driver not in ("aiosqlite", "asyncpg"):
            return None
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = self._compile(conn.dialect)
        values = [params.get(n, compiled.defaults[n]) for n in compiled.names]
        if compiled.binds is not None:
            values = [
                p(v) if p is not None else v for p, v in zip(compiled.binds, values, strict=True)
            ]
        sync = conn.sync_connection
        if sync is not None and not sync.closed and not sync.invalidated:
            raw = sync.connection.driver_connection  # checked out already: no I/O to get it
        else:
            raw = (await conn.get_raw_connection()).driver_connection
        for observe in _observers:
            observe(conn.engine, compiled.sql)
        return _Run(driver, raw, compiled, values)

    async def all(self, session: AsyncSession, **params: Any) -> list[tuple[Any, ...]]:
        """Every row, as tuples."""
        run = await self._prepare(session, params)
        if run is None:
            return [tuple(row) for row in await session.execute(self.statement, params)]
        if run.driver == "aiosqlite":
            rows: Any = await run.raw.execute_fetchall(run.compiled.sql, run.values)
        else:
            rows = await run.raw.fetch(run.compiled.sql, *run.values)
        processors = run.compiled.results
        if not processors:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            out.append(tuple(values))
        return out

    async def one_or_none(self, session: AsyncSession, **params: Any) -> tuple[Any, ...] | None:
        """The only row, or None."""
        rows = await self.all(session, **params)
        if len(rows) > 1:
            raise ValueError(f"expected at most one row, got {len(rows)}")
        return rows[0] if rows else None

    async def write(self, session: AsyncSession, **params: Any) -> None:
        """Run a write that stands alone and commit the session: one trip and the commit.

        With nothing else pending, PostgreSQL runs it in its own implicit transaction (no
        BEGIN, no COMMIT to send), SQLite with its commit in one trip to the worker thread.
        """
        run = await self._prepare(session, params)
        if run is None or _in_transaction(run.raw):
            # Something else is being written: join it, as session.execute would.
            await session.execute(self.statement, params)
        elif isinstance(run.raw, _SQLiteConnection):
            await run.raw.execute_and_commit(run.compiled.sql, run.values)
        elif run.driver == "aiosqlite":
            await run.raw.execute_fetchall(run.compiled.sql, run.values)
        else:
            await run.raw.execute(run.compiled.sql, *run.values)
        await session.commit()


def _in_transaction(raw: Any) -> bool:
    """Whether the driver's connection has a transaction open (writes pending)."""
    if isinstance(raw, _SQLiteConnection):
        return raw.in_transaction
    if hasattr(raw, "is_in_transaction"):  # asyncpg
        return bool(raw.is_in_transaction())
    return True  # unknown: assume so, and take SQLAlchemy's way


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]
    binds: tuple[Callable[[Any], Any] | None, ...] | None
    results: tuple[tuple[int, Callable[[Any], Any]], ...]


@dataclass(frozen=True)
class _Run:
    driver: str
    raw: Any
    compiled: _Compiled
    values: list[Any]


@dataclass
class RoundTrips:
    """What an engine sends to its database while counting (`with counter:`), for tests and
    benchmarks: statements (SQLAlchemy's and `Query`'s), and the commits and rollbacks that
    reach the database; for SQLite also every trip to aiosqlite's worker thread, which is what
    a query, a commit or a rollback costs there. (A rollback with nothing to undo is skipped
    before it leaves, and not counted.)
    """

    engine: AsyncEngine
    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    begins: int = 0
    handoffs: int = 0
    connects: int = 0
    sql: list[str] = field(default_factory=list)
    counting: bool = False
    _restore: list[tuple[Any, str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._on_statement)
        event.listen(self.engine.sync_engine.pool, "connect", self._on_connect)

    def _on_connect(self, *_: Any) -> None:
        if self.counting:
            self.connects += 1

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counting:
            self.statements += 1
            self.sql.append(statement)

    def _on_query(self, engine: AsyncEngine | None, statement: str) -> None:
        if engine is not None and engine.sync_engine is self.engine.sync_engine:
            self.statements += 1
            self.sql.append(statement)

    def reset(self) -> None:
        """Start from zero."""
        self.statements = self.commits = self.rollbacks = self.begins = self.handoffs = 0
        self.connects = 0
        self.sql.clear()

    def per(self, updates: int) -> str:
        """The counts per update, in words."""
        out = (
            f"{self.statements / updates:.2f} statements, {self.commits / updates:.2f} commits, "
            f"{self.rollbacks / updates:.2f} rollbacks"
        )
        if self.engine.dialect.name == "sqlite":
            out += f", {self.handoffs / updates:.2f} trips to aiosqlite's thread"
        else:
            out += f", {self.begins / updates:.2f} BEGINs"
        return out + f"; {self.connects} connections opened"

    def _wrap(self, owner: Any, name: str, count: Callable[[tuple[Any, ...]], None]) -> None:
        original = getattr(owner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            count(args)
            return await original(*args, **kwargs)

        self._restore.append((owner, name, original))
        setattr(owner, name, counted)

    def _on_handoff(self, args: tuple[Any, ...]) -> None:
        self.handoffs += 1
        fn = getattr(args[1], "__name__", "")
        self.commits += fn.endswith("commit")
        self.rollbacks += fn == "rollback"

    def __enter__(self) -> RoundTrips:
        if self.engine.dialect.name == "sqlite":
            self._wrap(aiosqlite.Connection, "_execute", self._on_handoff)
        elif self.engine.dialect.driver == "asyncpg":
            from asyncpg.transaction import Transaction

            self._wrap(Transaction, "start", lambda _: setattr(self, "begins", self.begins + 1))
            self._wrap(Transaction, "commit", lambda _: setattr(self, "commits", self.commits + 1))
            self._wrap(
                Transaction, "rollback", lambda _: setattr(self, "rollbacks", self.rollbacks + 1)
            )
        _observers.append(self._on_query)
        self.counting = True
        return self

    def __exit__(self, *_: object) -> None:
        self.counting = False
        _observers.remove(self._on_query)
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


def alembic_config() -> Config:
    """Alembic's configuration, pointing at the migrations shipped inside `models`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("models") / "migrations"))
    return cfg


def _head(cfg: Config) -> str | None:
    return ScriptDirectory.from_config(cfg).get_current_head()


def _known(cfg: Config) -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection, cfg: Config, target: str) -> None:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def _downgrade(conn: Connection, cfg: Config, target: str) -> None:
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, target)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `target`; returns the revisions before and after.

    On PostgreSQL the migration holds an advisory lock for its transaction, so processes that
    start at once migrate one after the other (the later ones find the schema already at head).
    """
    cfg = alembic_config()
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        before = await conn.run_sync(_current)
        if before is not None and before not in _known(cfg):
            raise SchemaError(
                f"the database is at revision {before}, which this amu-bot does not know "
                "(was it migrated by a newer version?)"
            )
        await conn.run_sync(_upgrade, cfg, target)
        after = await conn.run_sync(_current)
    return before, after


async def downgrade(engine: AsyncEngine, target: str) -> None:
    """Migrate down to `target` (tests use it to prove migrations reverse)."""
    cfg = alembic_config()
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, cfg, target)


async def prepare_for_run(engine: AsyncEngine) -> str:
    """Bring an empty or older database to head; refuse a schema this version does not know."""
    cfg = alembic_config()
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
        tables = await conn.run_sync(_tables)
    if current is None and tables - {"alembic_version"}:
        raise SchemaError(
            "the database has tables but no migration history; "
            "point DATABASE_URL at an amu-bot database or an empty one"
        )
    if current is not None and current not in _known(cfg):
        raise SchemaError(
            f"the database is at revision {current}, which this amu-bot does not know "
            "(was it migrated by a newer version?)"
        )
    head = _head(cfg)
    if current != head:
        await upgrade(engine)
    return head or ""


async def check_ready(engine: AsyncEngine) -> str:
    """For commands that must not create a database: it is migrated, then brought to head.

    Raises NotMigratedError for an empty (or foreign) database, SchemaError for an unknown
    revision. An older amu-bot schema is upgraded, as `run` would.
    """
    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current is None:
        raise NotMigratedError("the database has not been set up by amu-bot")
    return await prepare_for_run(engine)


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "amu_scratch_") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database beside the one `server_url` names, dropped on exit.

    For tests and benchmarks: `server_url` is only used to connect while creating and dropping.
    """
    import asyncpg  # PostgreSQL only; SQLite needs no such thing

    base = make_url(server_url)
    if base.get_backend_name() != "postgresql":
        raise ValueError(f"scratch databases are for PostgreSQL, not {base.get_backend_name()}")
    name = f"{prefix}{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
