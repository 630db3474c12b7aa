"""Real PostgreSQL clients against a running Tarn, as a new user would run them.

  clients.py CLIENT PORT [PASSWORD]

CLIENT is one of psycopg2, psycopg, asyncpg, pg8000, sqlalchemy, odbc. The server holds the
data that tests/tests/it/clients.rs loads (see SHOP below); each client connects,
lists schemas, tables and columns, queries with a parameter, fetches in batches and
checks what it got. A failed check raises AssertionError naming it (exit status 1).
Prints one line per check that passed.
"""

import asyncio
import datetime
import decimal
import sys
import uuid

# What clients.rs loads: shop.orders holds ids 1..2500, customer 'c' || (id % 7),
# amount = id * 1.25 as numeric(10,2), placed = 2024-01-01 + id minutes, paid =
# (id % 2 = 0); shop.big_orders is a view of the orders with amount > 3000.
# shop.orders is commented 'one row per order', its amount 'in euros'; paid
# defaults to false.
ROWS = 2500
BIG = sum(1 for i in range(1, ROWS + 1) if i * 1.25 > 3000)


def amount(i):
    return decimal.Decimal(i) * decimal.Decimal("1.25")


def placed(i):
    return datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=i)


def check(name, got, want):
    assert got == want, f"{name}: got {got!r}, want {want!r}"
    print(f"ok {name}")


def dsn(port, password):
    pw = f" password={password}" if password else ""
    return f"host=127.0.0.1 port={port} user=tarn dbname=tarn{pw}"


def url(driver, port, password):
    pw = f":{password}" if password else ""
    return f"postgresql+{driver}://tarn{pw}@127.0.0.1:{port}/tarn"


def run_psycopg2(port, password):
    import psycopg2

    conn = psycopg2.connect(dsn(port, password))
    cur = conn.cursor()
    cur.execute("select id, customer, amount, placed, paid from shop.orders where id = %s", (42,))
    check("psycopg2 parameter", cur.fetchall(), [(42, "c0", amount(42), placed(42), True)])
    check(
        "psycopg2 description",
        [d.name for d in cur.description],
        ["id", "customer", "amount", "placed", "paid"],
    )
    cur.execute(
        "select table_name from information_schema.tables where table_schema = %s order by 1",
        ("shop",),
    )
    check("psycopg2 tables", cur.fetchall(), [("big_orders",), ("orders",)])
    # A named cursor is DECLARE ... CURSOR, then FETCH FORWARD n, inside a transaction.
    named = conn.cursor("batches")
    named.itersize = 1000
    named.execute("select id from shop.orders order by id")
    sizes, total = [], 0
    while True:
        batch = named.fetchmany(1000)
        if not batch:
            break
        sizes.append(len(batch))
        total += sum(r[0] for r in batch)
    named.close()
    check("psycopg2 named cursor batches", sizes, [1000, 1000, 500])
    check("psycopg2 named cursor sum", total, ROWS * (ROWS + 1) // 2)
    conn.rollback()
    cur = conn.cursor()
    cur.execute("select count(*) from shop.big_orders")
    check("psycopg2 view", cur.fetchone()[0], BIG)
    # psycopg2 writes a list of lists into the query as ARRAY[[1,2],[3,NULL]]: cast
    # to int[], it keeps its two dimensions ("Unsupported CAST" before).
    cur.execute("select %s::int[], %s::text[]", ([[1, 2], [3, None]], [["a", "b c"]]))
    check("psycopg2 2-D arrays", cur.fetchone(), ([[1, 2], [3, None]], [["a", "b c"]]))
    conn.close()


def run_psycopg(port, password):
    import psycopg

    with psycopg.connect(dsn(port, password)) as conn:
        # Binary results and parameters (psycopg binds Python ints as int2/int4/int8).
        cur = conn.cursor(binary=True)
        cur.execute(
            "select id, customer, amount, placed, paid from shop.orders where id = %s", (7,)
        )
        check("psycopg binary row", cur.fetchall(), [(7, "c0", amount(7), placed(7), False)])
        cur.execute("select count(*) from shop.orders where amount > %s", (decimal.Decimal("3000"),))
        check("psycopg numeric parameter", cur.fetchone()[0], BIG)
        # A parameter keeps the number type psycopg declares, as PostgreSQL compares
        # bigint with float8 and numeric: 2.5 is between ids, not id 2.
        for binary in (True, False):
            mode = "binary" if binary else "text"
            c = conn.cursor(binary=binary)
            c.execute("select count(*) from shop.orders where id = %s", (2.5,))
            check(f"psycopg float parameter, = ({mode})", c.fetchone()[0], 0)
            c.execute("select count(*) from shop.orders where id < %s", (2.5,))
            check(f"psycopg float parameter, < ({mode})", c.fetchone()[0], 2)
            c.execute("select id from shop.orders where id in (%s, %s) order by id", (1.5, 3))
            check(f"psycopg float parameter, in ({mode})", c.fetchall(), [(3,)])
            c.execute("select count(*) from shop.orders where id = %s", (2**70,))
            check(f"psycopg numeric beyond bigint ({mode})", c.fetchone()[0], 0)
            c.execute("select id + %s from shop.orders where id = 1", (0.5,))
            got = c.fetchone()[0]
            check(f"psycopg float8 + bigint ({mode})", (type(got), got), (float, 1.5))
        # A fraction stored into an integer column is rounded as PostgreSQL assigns it:
        # a float8 half to even, a numeric half away from zero (Arrow's cast truncated).
        cur = conn.cursor(binary=True)
        cur.execute("create table shop.rounded (k int, n int)")
        fractions = [2.7, 2.5, -2.7, decimal.Decimal("2.5"), decimal.Decimal("-0.4")]
        for k, v in enumerate(fractions):
            cur.execute("insert into shop.rounded values (%s, %s)", (k, v))
        cur.execute("select n from shop.rounded order by k")
        check("psycopg fractions into integers", [r[0] for r in cur.fetchall()], [3, 2, -3, 3, 0])
        cur.execute("drop table shop.rounded")
        # uuid: psycopg binds uuid.UUID as uuid (binary in a binary cursor) and reads
        # type 2950 back as uuid.UUID, from text and from the 16 bytes of binary.
        key = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        cur.execute("create table shop.keyed (id uuid, n int)")
        cur.execute("insert into shop.keyed values (%s, 1), (gen_random_uuid(), 2)", (key,))
        for binary in (True, False):
            mode = "binary" if binary else "text"
            c = conn.cursor(binary=binary)
            c.execute("select id, n from shop.keyed where id = %s", (key,))
            check(f"psycopg uuid ({mode})", c.fetchall(), [(key, 1)])
            c.execute("select id from shop.keyed where n = 2")
            got = c.fetchone()[0]
            check(f"psycopg generated uuid ({mode})", (type(got), got.version), (uuid.UUID, 4))
        cur.execute("drop table shop.keyed")
        # Multidimensional arrays (lists of lists), as PostgreSQL 15 gives them.
        for binary in (True, False):
            mode = "binary" if binary else "text"
            c = conn.cursor(binary=binary)
            c.execute("select array[[1,2],[3,null]], array[['a','b'],['c d',null]]")
            check(
                f"psycopg 2-D arrays ({mode})",
                c.fetchone(),
                ([[1, 2], [3, None]], [["a", "b"], ["c d", None]]),
            )
            c.execute("select array[[[1,2],[3,4]],[[5,6],[7,8]]]")
            check(
                f"psycopg 3-D array ({mode})",
                c.fetchone()[0],
                [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
            )
            # ... and sent as parameters: psycopg sends a list of lists as one
            # array of two dimensions, declared int2[] (refused before: "multidimensional
            # arrays is not supported yet"); its type is the declared one (`%b` alone
            # was described as `unknown`, 705).
            c.execute("select %b::int[] as a, %b as b", ([[1, 2], [3, None]], [[5, 6]]))
            check(
                f"psycopg 2-D array parameters ({mode})",
                (c.fetchone(), [d.type_code for d in c.description]),
                (([[1, 2], [3, None]], [[5, 6]]), [1007, 1005]),
            )
            c.execute("select %b::text as t, %b as d", ("x", datetime.date(2024, 1, 2)))
            check(
                f"psycopg declared parameter types ({mode})",
                (c.fetchone(), [d.type_code for d in c.description]),
                (("x", datetime.date(2024, 1, 2)), [25, 1082]),
            )
        # A server-side cursor (DECLARE over the extended protocol, FETCH in batches).
        with conn.transaction():
            with conn.cursor("ss") as ss:
                ss.itersize = 700
                ss.execute("select id from shop.orders where paid order by id")
                ids = [r[0] for r in ss]
        check("psycopg server-side cursor", ids, list(range(2, ROWS + 1, 2)))
        cur = conn.cursor()
        cur.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'shop' and table_name = 'orders' order by ordinal_position"
        )
        check(
            "psycopg columns",
            cur.fetchall(),
            [
                ("id", "bigint"),
                # Declared varchar (no length): PostgreSQL's character varying.
                ("customer", "character varying"),
                ("amount", "numeric"),
                ("placed", "timestamp without time zone"),
                ("paid", "boolean"),
            ],
        )


def run_asyncpg(port, password):
    import asyncpg

    async def main():
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="tarn", database="tarn", password=password
        )
        row = await conn.fetchrow(
            "select id, customer, amount, placed, paid from shop.orders where id = $1", 42
        )
        check("asyncpg fetchrow", tuple(row), (42, "c0", amount(42), placed(42), True))
        check("asyncpg fetchval", await conn.fetchval("select count(*) from shop.big_orders"), BIG)
        # Binary results: the described type must be the one the rows are encoded in
        # (a CASE of int and bigint is bigint; psqlODBC's column query has one).
        check(
            "asyncpg widened CASE",
            await conn.fetchval("select case when id > 2 then id::int else 0 end from shop.orders where id = 4"),
            4,
        )
        # A cursor fetches with Execute row limits (PortalSuspended between batches).
        async with conn.transaction():
            cur = await conn.cursor("select id from shop.orders order by id")
            first = await cur.fetch(300)
            second = await cur.fetch(300)
        check("asyncpg cursor", [r[0] for r in first + second], list(range(1, 601)))
        stmt = await conn.prepare("select amount from shop.orders where id = $1")
        got = [await stmt.fetchval(i) for i in range(1, 8)]
        check("asyncpg prepared x7", got, [amount(i) for i in range(1, 8)])
        # Arrays of types asyncpg has no codec of its own for are introspected with a
        # query whose own answer must need none (its array_agg of
        # pg_attribute.atttypid is oid[]): a RecursionError before.
        check("asyncpg integer array", await conn.fetchval("select array[1, 2, null]"), [1, 2, None])
        check(
            "asyncpg 2-D bigint array",
            await conn.fetchval("select array[[id, id + 1]] from shop.orders where id = 3"),
            [[3, 4]],
        )
        # A list of lists as a parameter, in binary (refused before). Subscripts
        # over a parameter are planned before its value is seen: two of them take a
        # cast to int[][] (PostgreSQL reads that as int[]).
        check(
            "asyncpg 2-D array parameter",
            tuple(
                await conn.fetchrow(
                    "select $1::int[] as a, 3 = any($1::int[]) as has, ($1::int[][])[2][1] as e",
                    [[1, 2], [3, None]],
                )
            ),
            ([[1, 2], [3, None]], True, 3),
        )
        check(
            "asyncpg numeric array",
            await conn.fetchval("select array_agg(amount order by id) from shop.orders where id < 3"),
            [amount(1), amount(2)],
        )
        await conn.close()
        # A pool hands a released connection to the next user (reset with RESET ALL etc.).
        pool = await asyncpg.create_pool(
            host="127.0.0.1", port=port, user="tarn", database="tarn", password=password,
            min_size=1, max_size=1,
        )
        for i in range(3):
            async with pool.acquire() as c:
                check(f"asyncpg pool {i}", await c.fetchval("select $1::bigint + 1", i), i + 1)
        await pool.close()

    asyncio.run(main())


def run_pg8000(port, password):
    import pg8000.dbapi

    conn = pg8000.dbapi.connect(
        host="127.0.0.1", port=port, user="tarn", database="tarn", password=password
    )
    cur = conn.cursor()
    cur.execute("select id, customer, amount, paid from shop.orders where id = %s", (9,))
    check("pg8000 parameter", list(cur.fetchall()), [[9, "c2", amount(9), False]])
    cur.execute("select count(*) from shop.orders where customer = %s", ("c3",))
    check("pg8000 count", cur.fetchone()[0], sum(1 for i in range(1, ROWS + 1) if i % 7 == 3))
    conn.close()


def run_sqlalchemy(port, password):
    import pandas
    import sqlalchemy

    engine = sqlalchemy.create_engine(url("psycopg2", port, password))
    inspector = sqlalchemy.inspect(engine)
    check("sqlalchemy schemas", "shop" in inspector.get_schema_names(), True)
    check("sqlalchemy tables", inspector.get_table_names(schema="shop"), ["orders"])
    check("sqlalchemy views", inspector.get_view_names(schema="shop"), ["big_orders"])
    # Tarn tables have no keys, indexes or constraints: each inspector call answers
    # empty, as PostgreSQL does for a table without them.
    check(
        "sqlalchemy primary key",
        inspector.get_pk_constraint("orders", schema="shop")["constrained_columns"],
        [],
    )
    check("sqlalchemy indexes", inspector.get_indexes("orders", schema="shop"), [])
    check("sqlalchemy foreign keys", inspector.get_foreign_keys("orders", schema="shop"), [])
    check(
        "sqlalchemy unique constraints",
        inspector.get_unique_constraints("orders", schema="shop"),
        [],
    )
    check(
        "sqlalchemy table comment",
        inspector.get_table_comment("orders", schema="shop")["text"],
        "one row per order",
    )
    # get_columns: its query reads the outer row inside correlated subqueries.
    columns = inspector.get_columns("orders", schema="shop")
    check(
        "sqlalchemy column comments",
        [(c["name"], c.get("comment")) for c in columns if c.get("comment")],
        [("amount", "in euros")],
    )
    check(
        "sqlalchemy columns",
        [(c["name"], str(c["type"]), c["nullable"]) for c in columns if c["name"] != "customer"],
        [
            ("id", "BIGINT", True),
            ("amount", "NUMERIC(10, 2)", True),
            ("placed", "TIMESTAMP", True),
            ("paid", "BOOLEAN", True),
        ],
    )
    # server_default, from pg_attrdef (PostgreSQL's pg_get_expr text).
    check(
        "sqlalchemy column defaults",
        [(c["name"], c["default"]) for c in columns if c["default"] is not None],
        [("paid", "false")],
    )
    frame = pandas.read_sql(
        sqlalchemy.text("select customer, count(*) as n from shop.orders group by customer order by customer"),
        engine,
    )
    check("pandas read_sql", list(frame["n"]), [sum(1 for i in range(1, ROWS + 1) if i % 7 == k) for k in range(7)])
    with engine.connect() as conn:
        got = conn.execute(
            sqlalchemy.text("select amount from shop.orders where id = :id"), {"id": 4}
        ).scalar_one()
        check("sqlalchemy bound parameter", got, amount(4))


# Debian's psqlODBC (odbc-postgresql), which the test command installs.
PSQLODBC = "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"


def run_odbc(port, password):
    """psqlODBC through pyodbc, as Power BI, Tableau and Excel use it: UseDeclareFetch
    makes it read every result through DECLARE ... CURSOR WITH HOLD and FETCH 100."""
    import pyodbc

    def connect(pw):
        return pyodbc.connect(
            f"DRIVER={{{PSQLODBC}}};SERVER=127.0.0.1;PORT={port};DATABASE=tarn;UID=tarn;"
            f"PWD={pw or ''};UseDeclareFetch=1;Fetch=100;BoolsAsChar=0",
            autocommit=False,
        )

    conn = connect(password)
    cur = conn.cursor()
    tables = sorted(
        (t.table_schem, t.table_name, t.table_type)
        for t in cur.tables(schema="shop")
    )
    check("odbc SQLTables", tables, [("shop", "big_orders", "VIEW"), ("shop", "orders", "TABLE")])
    columns = [(c.column_name, c.type_name) for c in cur.columns(table="orders", schema="shop")]
    check(
        "odbc SQLColumns",
        columns,
        [("id", "int8"), ("customer", "varchar"), ("amount", "numeric"), ("placed", "timestamp"), ("paid", "bool")],
    )
    cur.execute("select id, customer, amount, placed, paid from shop.orders where id = ?", 42)
    check("odbc parameter", [tuple(r) for r in cur.fetchall()], [(42, "c0", amount(42), placed(42), True)])
    # 2,500 rows through a cursor fetched 100 at a time.
    cur.execute("select id from shop.orders order by id")
    got = []
    while True:
        batch = cur.fetchmany(300)
        if not batch:
            break
        got.extend(r[0] for r in batch)
    check("odbc batches", got, list(range(1, ROWS + 1)))
    cur.execute("select count(*) from shop.big_orders")
    check("odbc view", cur.fetchone()[0], BIG)
    conn.rollback()
    conn.close()
    if password:
        try:
            connect("wrong")
        except pyodbc.Error as e:
            # PostgreSQL's words, naming the user (libpq's SCRAM leaves its name empty).
            check(
                "odbc wrong password",
                'password authentication failed for user "tarn"' in str(e),
                True,
            )
        else:
            raise AssertionError("odbc wrong password: connected")


CLIENTS = {
    "odbc": run_odbc,
    "psycopg2": run_psycopg2,
    "psycopg": run_psycopg,
    "asyncpg": run_asyncpg,
    "pg8000": run_pg8000,
    "sqlalchemy": run_sqlalchemy,
}


def main():
    client, port = sys.argv[1], int(sys.argv[2])
    password = sys.argv[3] if len(sys.argv) > 3 else None
    CLIENTS[client](port, password)


if __name__ == "__main__":
    main()
