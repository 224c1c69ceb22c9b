"""SQL for the full-text index (SQLite): its queue of new todos, and how a search asks it.

The queue. Migration 0004 made inserts queue a todo's id in `todos_fts_pending` instead of
indexing it at once (its docstring has the measurements); a search first moves the queue into
`todos_fts` (`index_pending_search`), so results are exact right after a write.

Asking. Since migration 0006 the index holds each todo's owner as a token in its `owner` column
(U+E000 then the id: no search word contains U+E000, so none is ever an owner token), so a search
costs what the caller's own matches cost (docs/performance.md, "Search at scale").
`plan_search` turns the user's words into an FTS5 query and picks one of two ways (`Method`):

- `GATHER`: the caller's matches come from the index (`owner : <token> AND ...`, asking for
  one more than `GATHER_LIMIT`); while they are no more, their ids are bound to the page's
  statement (a JSON array) and the page sorts them: the cost follows the caller's matches;
- `WALK`: the sort's own index is read in order from the cursor, each row checked against the
  index (`rowid = todos.id`) until the page is full; the cost follows page size / density, so it
  is chosen when the caller has many matches.

The last word is a prefix. FTS5 answers a prefix by merging the doclists of every term it
covers, every user's, each time a query starts: once per row in a walk (measured 3 s a page).
So the prefix is first expanded into the exact terms it covers (`todos_fts_terms`, a few index
seeks), and the query ORs them; past `MAX_PREFIX_TERMS` terms, or for a word that is not plain
ASCII (whose folding only the tokenizer knows), the prefix query stays and the page's statement
asks the index itself (`MATCHING`, as bulk changes by `q` do: they act on every match anyway).

PostgreSQL has no queue (its GIN index is exact as a write commits) and plans the same two ways
with its own SQL: `matches_search` compiles to the owner's lexemes (migration 0009 writes each
lexeme with its owner in front, `42_buy`, and indexes that: `MATCHING`, the gather, costs the
caller's own matches), `row_matches_search` to a row's own vector (`WALK`: no index seek per
row, the vector is a generated column of the row). Which one is PostgreSQL's own estimate of the
caller's matches (`EXPLAIN` of the owned condition, a plan and no execution: its statistics
know the owned lexemes' frequencies), against the same `GATHER_LIMIT`. The words are bound as
`SearchQuery`, which writes FTS5's query on SQLite and to_tsquery's on PostgreSQL.

The running code owns its own copies of the statements: a migration is frozen history.
"""

import re
from enum import StrEnum
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from todo_api.errors import InvalidParameter

# The same statement migration 0006's catch-up trigger runs every 1024th insert.
_INDEX_PENDING = """INSERT INTO todos_fts(rowid, owner, title, description)
        SELECT t.id, char(57344) || t.owner_id, t.title, coalesce(t.description, '') FROM todos AS t
        WHERE t.id IN (SELECT todo_id FROM todos_fts_pending)"""
_CLEAR_PENDING = "DELETE FROM todos_fts_pending"
_ANY_PENDING = "SELECT EXISTS (SELECT 1 FROM todos_fts_pending)"
_NEXT_TERM = "SELECT term FROM todos_fts_terms WHERE term >= ? AND term < ? LIMIT 1"
_MATCHES = "SELECT rowid FROM todos_fts WHERE todos_fts MATCH ?"
_COUNT_MATCHES = f"SELECT count(*) FROM ({_MATCHES} LIMIT ?)"  # noqa: S608 (a constant)

# Below this many matches of the caller, gathering them beats walking the sort's index
# (docs/performance.md has the crossing measured).
GATHER_LIMIT = 10_000
# The matches are first listed up to this many: most searches end there, in one query. Past it
# they are counted (up to GATHER_LIMIT + 1), which costs half of listing them (1.2 vs 2.5 ms for
# 10,000 at 1M todos), and listed again only to gather.
FIRST_LISTED = 1_000
# A prefix covering more terms than this is left to FTS5 (`Method.MATCHING`).
MAX_PREFIX_TERMS = 16
# Terms are runs of letters and digits: none continues with this, so `term + _AFTER` sorts after
# the term and before every longer term it prefixes.
_AFTER = "\x01"
_SEARCH_WORD = re.compile(r"\w+")
_OWNER_MARK = "\ue000"  # starts every owner token (migration 0006)


class Method(StrEnum):
    MATCHING = "matching"  # id IN (the index's matches of `expression`)
    GATHER = "gather"  # id IN (the ids listed in `matches`)
    WALK = "walk"  # each row checked: EXISTS (the index matches `expression` at its id)


class SearchPlan(NamedTuple):
    """How to filter a page on the user's words: the FTS5 query, or the matches' ids (JSON)."""

    method: Method
    expression: str
    matches: str = "[]"


def search_words(text: str) -> list[str]:
    words = _SEARCH_WORD.findall(text)
    if not words:
        raise InvalidParameter("q", "give at least one word to search for")
    return words


class SearchExpression(str):
    """An FTS5 query (what SQLite is asked), with the words it was made of (what PostgreSQL is
    asked: `SearchQuery` binds the one the database understands)."""

    __slots__ = ("words",)
    words: tuple[str, ...]

    def __new__(cls, expression: str, words: list[str]) -> "SearchExpression":
        made = super().__new__(cls, expression)
        made.words = tuple(words)
        return made


def owned_expression(owner_id: int, text: str) -> SearchExpression:
    """The user's words as an FTS5 query over one owner's todos, the last word as a prefix.

    Every word must occur in the title or description (the owner column holds no word);
    quoting each means no input can be FTS5 syntax, so no input can make the query fail.
    """
    words = search_words(text)
    return SearchExpression(
        _owned(owner_id, _words_expression(words[:-1], f'"{words[-1]}"*')), words
    )


class SearchQuery(TypeDecorator[str]):
    """The `filter_q` bind: the FTS5 query as given on SQLite; on PostgreSQL, to_tsquery's text
    of its words (each a quoted lexeme, so never syntax; a `\\w+` word holds no quote)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return None if value is None else str(value)
        if not isinstance(value, SearchExpression):
            raise TypeError("PostgreSQL searches bind the SearchExpression of owned_expression")
        *words, last = value.words
        return " & ".join([*(f"'{word}'" for word in words), f"'{last}':*"])


class matches_search(FunctionElement[bool]):
    """`matches_search(todos.c.id, todos.c.owner_id, todos.c.title, todos.c.description, query,
    caller)`: whether the todo is among the caller's matches, asked of the index (`query` a bind
    of type `SearchQuery`, `caller` the caller's id)."""

    type = sa.Boolean()
    name = "matches_search"
    inherit_cache = True


@compiles(matches_search, "sqlite")
def _match_on_sqlite(element: matches_search, compiler: SQLCompiler, **kw: Any) -> str:
    todo_id, _owner, _title, _description, query, _caller = (
        compiler.process(c, **kw) for c in element.clauses
    )
    return f"{todo_id} IN (SELECT rowid FROM todos_fts WHERE todos_fts MATCH {query})"  # noqa: S608


@compiles(matches_search, "postgresql")
def _match_on_postgresql(element: matches_search, compiler: SQLCompiler, **kw: Any) -> str:
    _todo_id, owner, title, description, query, caller = (
        compiler.process(c, **kw) for c in element.clauses
    )
    # The GIN index's own expression (migration 0009), so the planner uses the index.
    return (
        f"todo_owned_search_vector({owner}, {title}, {description})"
        f" @@ todo_owned_search_query({caller}, {query})"
    )


class row_matches_search(FunctionElement[bool]):
    """`row_matches_search(todos.c.id, todos.c.title, todos.c.description, query)`: the same
    question asked of one row, for a walk down a sort's index (`Method.WALK`)."""

    type = sa.Boolean()
    name = "row_matches_search"
    inherit_cache = True


@compiles(row_matches_search, "sqlite")
def _row_match_on_sqlite(element: row_matches_search, compiler: SQLCompiler, **kw: Any) -> str:
    todo_id, _title, _description, query = (compiler.process(c, **kw) for c in element.clauses)
    return (
        "EXISTS (SELECT * FROM todos_fts"  # noqa: S608
        f" WHERE todos_fts MATCH {query} AND {todo_id} = todos_fts.rowid)"
    )


@compiles(row_matches_search, "postgresql")
def _row_match_on_postgresql(element: row_matches_search, compiler: SQLCompiler, **kw: Any) -> str:
    todo_id, _title, _description, query = (compiler.process(c, **kw) for c in element.clauses)
    # No index: the row's own vector, kept in its generated column (migration 0009).
    column = (
        f"{todo_id.rsplit('.', 1)[0]}.todos_fts_vector" if "." in todo_id else "todos_fts_vector"
    )
    return f"{column} @@ todo_search_query({query})"


_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
# A short read runs in autocommit on PostgreSQL (db_postgres.py), where SET LOCAL would last no
# longer than itself: the search then opens the transaction it needs (one snapshot for its
# statements too); PostgresDatabase commits a transaction a read left open.
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
# PostgreSQL's estimate of the caller's matches: the plan of the gather's own condition.
_ESTIMATE_MATCHES = sa.text(
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM todos WHERE"
    " todo_owned_search_vector(owner_id, title, description)"
    " @@ todo_owned_search_query(:owner_id, :query)"
).bindparams(sa.bindparam("query", type_=SearchQuery()))


def estimated_matches(connection: Connection, owner_id: int, expression: str) -> float:
    """How many todos of the owner PostgreSQL's statistics expect to match (0.1-0.3 ms)."""
    (plan,) = connection.execute(
        _ESTIMATE_MATCHES, {"owner_id": owner_id, "query": expression}
    ).scalar_one()
    return float(plan["Plan"]["Plan Rows"])


def plan_search(
    connection: Connection, owner_id: int, text: str, *, every_match: bool = False
) -> SearchPlan | None:
    """The cheapest exact way to find the owner's todos matching `text`; None when none can.

    `every_match`: the caller reads them all (a count), so on PostgreSQL the index gathers
    them whatever their number; a page reads up to its limit.
    """
    words = search_words(text)
    if connection.dialect.name != "sqlite":
        # psycopg prepares a statement run five times, and PostgreSQL may then plan it once for
        # any owner and words: measured, a gathered page (1,111 matches) went from 1 ms to 25 ms
        # under a generic plan that walks. The search's statements are planned for their values.
        driver: Any = connection.connection.driver_connection
        if driver.info.transaction_status == driver.info.transaction_status.IDLE:
            connection.exec_driver_sql(_BEGIN_READ)
        connection.exec_driver_sql(_CUSTOM_PLANS)
        expression = owned_expression(owner_id, text)
        if every_match or estimated_matches(connection, owner_id, expression) <= GATHER_LIMIT:
            return SearchPlan(Method.MATCHING, expression)
        return SearchPlan(Method.WALK, expression)
    driver = connection.connection.driver_connection
    assert driver is not None
    terms = _prefix_terms(driver, words[-1])
    if terms == []:
        return None  # no indexed word starts with the last one
    if terms is None:
        return SearchPlan(Method.MATCHING, owned_expression(owner_id, text))
    last = "(" + " OR ".join(f'"{term}"' for term in terms) + ")"
    rows_expression = _words_expression(words[:-1], last)
    owned = _owned(owner_id, rows_expression)
    cursor = driver.execute(_MATCHES, (owned,))
    try:
        rows = cursor.fetchmany(FIRST_LISTED + 1)
    finally:
        cursor.close()
    if not rows:
        return None
    if len(rows) > min(FIRST_LISTED, GATHER_LIMIT):
        (count,) = driver.execute(_COUNT_MATCHES, (owned, GATHER_LIMIT + 1)).fetchone()
        if count > GATHER_LIMIT:
            return SearchPlan(Method.WALK, rows_expression)
        rows = driver.execute(_MATCHES, (owned,)).fetchall()
    return SearchPlan(Method.GATHER, owned, orjson.dumps([row[0] for row in rows]).decode())


def _words_expression(exact_words: list[str], last: str) -> str:
    return " AND ".join([*(f'"{word}"' for word in exact_words), last])


def _owned(owner_id: int, expression: str) -> str:
    return f'owner : "{_OWNER_MARK}{owner_id}" AND ({expression})'


def _prefix_terms(driver: object, word: str) -> list[str] | None:
    """The index's terms that start with `word`, or None when they are too many to list (or the
    word is not plain ASCII, whose folding only the tokenizer knows)."""
    if not (word.isascii() and word.isalnum()):
        return None
    prefix = word.lower()
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    terms: list[str] = []
    start = prefix
    while len(terms) <= MAX_PREFIX_TERMS:
        row = driver.execute(_NEXT_TERM, (start, end)).fetchone()  # type: ignore[attr-defined]
        if row is None:
            return terms
        terms.append(row[0])
        start = row[0] + _AFTER
    return None


def search_index_is_behind(connection: Connection) -> bool:
    """Whether todos wait to be indexed (SQLite): a plain read, so a search can skip the lock."""
    if connection.dialect.name != "sqlite":
        return False
    driver = connection.connection.driver_connection
    assert driver is not None
    return bool(driver.execute(_ANY_PENDING).fetchone()[0])


def index_pending_search(connection: Connection) -> None:
    """Add the todos queued since the index last caught up to the full-text index (SQLite).

    Run this in the write transaction before a query that filters on `q`, so the search sees
    every todo committed before it.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(_INDEX_PENDING)
    driver.execute(_CLEAR_PENDING)
