"""The statements a worker runs for every job (and the web for every submission: the
lookup of its key), compiled once per process.

Django's ORM builds and compiles a query every time it runs one (the filters, the busy
clients' subquery, the SQL compiler): 0.3 to 1 ms of Python each, some 5 ms of the ~15 ms
a worker spent of its own per small compile (``py-spy --gil`` under ``scripts/throughput.py``).
Here the SELECTs are compiled by the ORM once per set of parameters (the very SQL it would
run) and run again with a cursor; the UPDATEs and the DELETE, whose values change every
time, are written out once with the models' own table and column names and the backend's
own adaptation of a datetime. Plain columns only (text, numbers): a cursor returns those as
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


def load(model, pk: Any):
    """The row of ``model`` whose primary key is ``pk``, as ``model.objects.filter(pk=pk)
    .first()`` gives it (every field read, the backend's converters applied), or None; the
    query is the ORM's own, compiled once per model and database (the worker loads each
    job's target: building the ORM query took ~10 % of its Python per small compile)."""
    key = _per_database(model)
    found = _LOADS.get(key)
    if found is None:
        compiler = model.objects.filter(pk=pk).query.get_compiler(connection.alias)
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
    for position, (functions, expression) in converters:  # as SQLCompiler.apply_converters
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return model.from_db(connection.alias, names, values)


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


def update(model, pk: Any, values: dict[str, Any], where: dict[str, Any], *, increment: str = "") -> int:
    """``UPDATE`` one row of ``model`` (its primary key ``pk``): set ``values`` (and add one
    to the field ``increment``) where each field of ``where`` is one of its values (a list)
    or equals it. Returns the number of rows changed."""
    sets = [f"{_column(model, name)} = %s" for name in values]
    params = [_value(value) for value in values.values()]
    if increment:
        column = _column(model, increment)
        sets.append(f"{column} = {column} + 1")
    conditions = [f"{_column(model, model._meta.pk.name)} = %s"]
    params.append(pk)
    for name, wanted in where.items():
        if isinstance(wanted, list | tuple):
            conditions.append(f"{_column(model, name)} IN ({', '.join(['%s'] * len(wanted))})")
            params += [_value(w) for w in wanted]
        else:
            conditions.append(f"{_column(model, name)} = %s")
            params.append(_value(wanted))
    sql = f"UPDATE {_table(model)} SET {', '.join(sets)} WHERE {' AND '.join(conditions)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def delete(model, pk: Any) -> int:
    """``DELETE`` the row of ``model`` whose primary key is ``pk`` (no cascade: for a model
    nothing refers to, as Job)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table(model)} WHERE {_column(model, model._meta.pk.name)} = %s", [pk])
        return cursor.rowcount
