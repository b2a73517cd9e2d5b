"""The statements a worker runs for every job (and the web for every submission: the
lookup of its key, and the re-reads of a result it waits for), compiled once per process.

Django's ORM builds and compiles a query every time it runs one (the filters, the busy
clients' subquery, the SQL compiler): 0.3 to 1 ms of Python each, some 5 ms of the ~15 ms
a worker spent of its own per small compile (``py-spy --gil`` under ``scripts/throughput.py``).
Here the SELECTs are compiled by the ORM once per set of parameters (the very SQL it would
run) and run again with a cursor; the UPDATEs, whose values change every time, are written
out once per shape with the models' own table and column names (the DELETE each time: one
short string), their values adapted as the backend adapts a datetime. Plain columns only (text, numbers): a cursor returns those as
the ORM would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from .models import Job

_CACHE: dict[tuple, tuple[str, tuple]] = {}

# Job's columns a claim reads (the rest are left deferred: Django loads one if it is read)
CLAIMED_FIELDS = ("id", "kind", "target", "client", "lane", "go", "fair_order", "attempts")


def _per_database(*key) -> tuple:
    """A cache key of this database (the tests switch databases within one process)."""
    return (connection.alias, connection.vendor, connection.settings_dict["NAME"], *key)


def _compiled(key: tuple, build: Callable[[], QuerySet]) -> tuple[str, tuple]:
    """(sql, params) of ``build()``'s query, compiled once per ``key`` and database."""
    key = _per_database(*key)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = build().query.sql_with_params()
    return found


def _rows(key: tuple, build: Callable[[], QuerySet]) -> list[tuple]:
    sql, params = _compiled(key, build)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def first_job(key: tuple, build: Callable[[], QuerySet]) -> Job | None:
    """The first job of ``build()`` (a queryset of Job, ordered), its :data:`CLAIMED_FIELDS` read."""
    rows = _rows(("first job", *key), lambda: build().values_list(*CLAIMED_FIELDS)[:1])
    if not rows:
        return None
    return Job.from_db(connection.alias, list(CLAIMED_FIELDS), rows[0])


_LOADS: dict[tuple, tuple[str, list[str], Any]] = {}


def _fetch(model, pk: Any, fields: tuple[str, ...] = ()) -> tuple[list[str], list[Any]] | None:
    """(attribute names, values) of the row of ``model`` whose primary key is ``pk``: every
    field, or ``fields``; the ORM's query compiled once per model, fields and database, its
    converters applied as SQLCompiler.apply_converters does. None when there is no such row."""
    key = _per_database(model, fields)
    found = _LOADS.get(key)
    if found is None:
        query = model.objects.filter(pk=pk)
        compiler = (query.only(*fields) if fields else query).query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        if list(params) != [pk]:  # the key must be the statement's only parameter
            raise ValueError(f"cannot cache the load of {model.__name__}: parameters {params!r}")
        columns = [column for column, _, _ in compiler.select]
        converters = list(compiler.get_converters(columns).items())
        found = _LOADS[key] = (sql, [column.target.attname for column in columns], converters)
    sql, names, converters = found
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, (functions, expression) in converters:
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return names, values


def load(model, pk: Any):
    """The row of ``model`` whose primary key is ``pk``, as ``model.objects.filter(pk=pk)
    .first()`` gives it (every field read, the backend's converters applied), or None; the
    query is the ORM's own, compiled once per model and database (the worker loads each
    job's target: building the ORM query took ~10 % of its Python per small compile)."""
    found = _fetch(model, pk)
    return None if found is None else model.from_db(connection.alias, *found)


def refresh(instance, fields: tuple[str, ...] = ()) -> None:
    """``instance.refresh_from_db(fields=…)`` (every field without ``fields``) with the query
    compiled once: a web request waiting for a result reads its status each time it is told
    the work ended (and once before it waits). Raises DoesNotExist when the row is gone."""
    model = type(instance)
    deferred = instance.get_deferred_fields()
    if not fields and deferred:  # as refresh_from_db: what was deferred stays deferred
        fields = tuple(f.attname for f in model._meta.concrete_fields if f.attname not in deferred)
    found = _fetch(model, instance.pk, fields)
    if found is None:
        raise model.DoesNotExist(f"{model.__name__} {instance.pk} is gone")
    for name, value in zip(*found, strict=True):
        setattr(instance, name, value)


def count(key: tuple, build: Callable[[], QuerySet]) -> int:
    """How many rows ``build()`` (a queryset) has."""
    sql, params = _compiled(("count", *key), lambda: build().values("pk"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) counted", params)
        return cursor.fetchone()[0]


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, str):
        return str(value)  # a choice (Status.RUNNING) as its plain value
    return value


_UPDATES: dict[tuple, str] = {}


def update(
    model, pk: Any, values: dict[str, Any], where: dict[str, Any] | tuple[dict[str, Any], ...], *, increment: str = ""
) -> int:
    """``UPDATE`` one row of ``model`` (its primary key ``pk``): set ``values`` (and add one
    to the field ``increment``) where each field of ``where`` is one of its values (a list)
    or equals it — or, ``where`` a tuple of such dicts, where any one of them holds.
    Returns the number of rows changed. The SQL is written once per shape (the fields set,
    the fields and number of values asked for) and database."""
    alternatives = where if isinstance(where, tuple) else (where,)
    shape = tuple(
        tuple((name, len(wanted) if isinstance(wanted, list | tuple) else -1) for name, wanted in one.items())
        for one in alternatives
    )
    key = _per_database("update", model, tuple(values), shape, increment)
    sql = _UPDATES.get(key)
    if sql is None:
        sql = _UPDATES[key] = _update_sql(model, tuple(values), shape, increment)
    params = [_value(value) for value in values.values()]
    params.append(pk)
    for one in alternatives:
        for wanted in one.values():
            params += [_value(w) for w in wanted] if isinstance(wanted, list | tuple) else [_value(wanted)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _update_sql(model, names: tuple[str, ...], shape: tuple, increment: str) -> str:
    """The UPDATE of :func:`update` for one shape: ``shape`` holds, per alternative, each
    field asked for with its number of values (-1: equal to one value)."""
    sets = [f"{_column(model, name)} = %s" for name in names]
    if increment:
        column = _column(model, increment)
        sets.append(f"{column} = {column} + 1")
    alternatives = []
    for one in shape:
        conditions = [
            f"{_column(model, name)} IN ({', '.join(['%s'] * n)})" if n >= 0 else f"{_column(model, name)} = %s"
            for name, n in one
        ]
        alternatives.append(" AND ".join(conditions) or "1 = 1")
    matching = " OR ".join(f"({a})" for a in alternatives)
    return (
        f"UPDATE {_table(model)} SET {', '.join(sets)}"
        f" WHERE {_column(model, model._meta.pk.name)} = %s AND ({matching})"
    )


def delete(model, pk: Any) -> int:
    """``DELETE`` the row of ``model`` whose primary key is ``pk`` (no cascade: for a model
    nothing refers to, as Job)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table(model)} WHERE {_column(model, model._meta.pk.name)} = %s", [pk])
        return cursor.rowcount
