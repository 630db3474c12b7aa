"""Replays recorded client sessions (../shared/client-traces/*.trace) against Tarn.

Each trace holds, message by message, what a real client sent to PostgreSQL 15 and
what PostgreSQL answered. This script sends the same messages to a server, one
connection at a time, and compares each answer with PostgreSQL's:

- the kinds and order of the messages (ParseComplete, BindComplete, RowDescription,
  NoData, PortalSuspended, CommandComplete, EmptyQueryResponse, ErrorResponse,
  ReadyForQuery), ReadyForQuery's transaction status and an error's SQLSTATE;
- each RowDescription: column names, type OIDs, formats, and whether the column is
  attributed to a table column (PostgreSQL's table OIDs are its own, so a table OID
  is compared as "set or not" and the column number exactly);
- ParameterDescription type OIDs;
- the number of data rows and the CommandComplete tag, for statements over the
  user tables the trace was recorded with (catalog queries return PostgreSQL's own
  objects: indexes, templates, built-in roles, which Tarn does not have).

ParameterStatus, NoticeResponse and BackendKeyData are not compared. A CancelRequest
in the trace is replayed as a cancel of the running statement half a second after
it was sent. The data the traces were recorded over is `FIXTURE` below: the caller
loads it and serves the catalog under the database name `warehouse`.

Differences Tarn does not remove yet are listed in `KNOWN`, each with its reason; they
are printed but do not fail. A known difference that no longer occurs fails the run
(so the list only shrinks), as does any difference not in it.

Usage: replay.py PORT TRACE [TRACE...] prints each difference and exits 1 on any
unexpected one; `replay.py --fixture` prints the data to load first.
"""

import ast
import re
import socket
import struct
import sys
import threading

FIXTURE = """
create schema analytics;
create table analytics.customers (id integer, name text);
insert into analytics.customers values (1, 'Ada'), (2, 'Grace');
create table analytics.orders (id bigint, customer_id integer, amount numeric(12,2),
  status text, created_at timestamptz, order_date date, is_paid boolean, tags text[],
  payload jsonb, raw bytea, ratio double precision, "MixedCase" varchar(20));
insert into analytics.orders values
  (1, 1, 10.50, 'new', '2024-01-01 10:00:00+00', '2024-01-01', true, array['a', 'b'],
   '{"k": 1}', '\\x0102', 0.5, 'x'),
  (2, 2, 20.25, 'paid', '2024-01-02 11:30:00+00', '2024-01-02', false, array['c'],
   '{"k": 2}', '\\x03', 1.5, 'y');
create view analytics.v_paid as select * from analytics.orders where is_paid;
"""

# (trace, pattern of the difference's text, why Tarn differs). Keep reasons short
# and true; remove an entry when its difference is gone.
KNOWN = [
    ("asyncpg_introspect.trace", r"syntax error at or near \"\.\"'; messages \['ErrorResponse'\] where PostgreSQL sent \['ParseComplete'",
     "the trace cuts asyncpg's type query at 2,000 characters; the whole query (sent for types outside asyncpg's codecs, such as integer[]) runs in tests/python/clients.py (asyncpg's arrays)"),
    ("asyncpg_introspect.trace", r"messages \['ReadyForQuery'\] where PostgreSQL sent \['BindComplete'",
     "the Bind after that failed Parse is skipped, as PostgreSQL skips to Sync"),
    ("sqlalchemy.trace", r"error 42601 'syntax error at or near \"\(\"'; .*SELECT pg_catalog.pg_attribute.attname AS name",
     "the trace cuts the query at 2,000 characters; SQLAlchemy 2.1's inspector runs the whole query in tests/python/clients.py"),
    ("sqlalchemy.trace", r"expected OUTER, SEMI, ANTI or JOIN after LEFT",
     "the trace cuts the query at 2,000 characters; SQLAlchemy 2.1's inspector runs the whole query in tests/python/clients.py"),
    ("sqlalchemy14.trace", r"column 'indexprs' has type 25 where PostgreSQL has 194",
     "pg_index.indexprs is text, PostgreSQL's is pg_node_tree"),
]

# Messages whose number and content depend on the server, not on the statement.
IGNORED = {"ParameterStatus", "Notice", "BackendKeyData", "Auth", "SSL/GSS"}

# Statements whose rows come from the user tables: their row counts must agree.
USER_DATA = re.compile(r"analytics\.|\"analytics\"\.", re.I)
CATALOG = re.compile(r"pg_catalog|information_schema|pg_[a-z_]+\(|\bpg_(class|type|namespace|attribute|proc|database|settings|roles)\b", re.I)

FIELD = re.compile(r"(.*?):(\d+)(/b)?(?:@(\d+)\.(\d+))?(?: |$)")


def parse_trace(path):
    """Connections in order of their first message: {id: [(dir, kind, rest)]}."""
    conns = {}
    order = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        conn, direction, rest = line.split(" ", 2)
        if direction == "----":
            continue
        kind, _, rest = rest.partition(" ")
        if conn not in conns:
            conns[conn] = []
            order.append(conn)
        conns[conn].append((direction, kind, rest))
    return [(c, conns[c]) for c in order]


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.key = None

    def send(self, type_byte, payload):
        self.sock.sendall(type_byte + struct.pack("!i", len(payload) + 4) + payload)

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self):
        head = self.recv_exact(5)
        kind = head[:1]
        (length,) = struct.unpack("!i", head[1:])
        return kind, self.recv_exact(length - 4)


def cstr(s):
    return s.encode() + b"\0"


def parse_params(text):
    """`paramfmts=[...] params=[...] resultfmts=[...]` of a Bind line."""
    out = {}
    for key in ("paramfmts", "params", "resultfmts"):
        m = re.search(key + r"=(\[.*?\])(?= [a-z]+=|$)", text)
        out[key] = ast.literal_eval(m.group(1))
    return out


def without_line_comments(sql):
    """The traces print each statement on one line, its newlines (and the indentation
    after them) turned into runs of spaces, so a `-- comment` would swallow the rest
    of the statement: it is cut at the next run of two or more spaces."""
    return re.sub(r"--.*?(?=\s{2,}|$)", " ", sql) if "--" in sql else sql


def send_client(conn, kind, rest):
    if kind == "Query":
        conn.send(b"Q", cstr(without_line_comments(rest)))
    elif kind == "Parse":
        m = re.match(r"name='(.*?)' oids=(\[.*?\]) q=(.*)$", rest)
        name, oids, query = m.group(1), ast.literal_eval(m.group(2)), without_line_comments(m.group(3))
        payload = cstr(name) + cstr(query) + struct.pack("!h", len(oids))
        payload += b"".join(struct.pack("!I", o) for o in oids)
        conn.send(b"P", payload)
    elif kind == "Bind":
        m = re.match(r"portal='(.*?)' stmt='(.*?)' (.*)$", rest)
        p = parse_params(m.group(3))
        payload = cstr(m.group(1)) + cstr(m.group(2))
        payload += struct.pack("!h", len(p["paramfmts"]))
        payload += b"".join(struct.pack("!h", f) for f in p["paramfmts"])
        payload += struct.pack("!h", len(p["params"]))
        for i, value in enumerate(p["params"]):
            if value is None:
                payload += struct.pack("!i", -1)
                continue
            fmts = p["paramfmts"]
            binary = (fmts[i] if len(fmts) > 1 else (fmts[0] if fmts else 0)) == 1
            data = bytes.fromhex(value[2:]) if binary and value.startswith("0x") else value.encode()
            payload += struct.pack("!i", len(data)) + data
        payload += struct.pack("!h", len(p["resultfmts"]))
        payload += b"".join(struct.pack("!h", f) for f in p["resultfmts"])
        conn.send(b"B", payload)
    elif kind in ("Describe", "Close"):
        m = re.match(r"([SP]) '(.*)'$", rest)
        conn.send(b"D" if kind == "Describe" else b"C", m.group(1).encode() + cstr(m.group(2)))
    elif kind == "Execute":
        m = re.match(r"portal='(.*?)' maxrows=(\d+)$", rest)
        conn.send(b"E", cstr(m.group(1)) + struct.pack("!i", int(m.group(2))))
    elif kind == "Sync":
        conn.send(b"S", b"")
    elif kind == "Flush":
        conn.send(b"H", b"")
    elif kind == "Terminate":
        conn.send(b"X", b"")
    else:
        raise ValueError(f"cannot replay client message {kind}")


def describe_fields(payload):
    (count,) = struct.unpack("!h", payload[:2])
    pos = 2
    fields = []
    for _ in range(count):
        end = payload.index(b"\0", pos)
        name = payload[pos:end].decode()
        pos = end + 1
        table, column, type_oid, _size, _mod, fmt = struct.unpack("!IhIhih", payload[pos:pos + 18])
        pos += 18
        fields.append((name, type_oid, fmt == 1, table != 0, column))
    return fields


def expected_fields(rest):
    fields = []
    for m in FIELD.finditer(rest):
        if not m.group(0):
            break
        name, oid, binary, table, column = m.groups()
        fields.append((name, int(oid), bool(binary), table is not None, int(column) if column else 0))
    return fields


def server_message(kind, payload):
    """(kind, detail) in the trace's vocabulary."""
    k = kind.decode()
    if k == "1":
        return ("ParseComplete", "")
    if k == "2":
        return ("BindComplete", "")
    if k == "3":
        return ("CloseComplete", "")
    if k == "n":
        return ("NoData", "")
    if k == "s":
        return ("PortalSuspended", "")
    if k == "I":
        return ("EmptyQueryResponse", "")
    if k == "Z":
        return ("ReadyForQuery", payload.decode())
    if k == "C":
        return ("CommandComplete", payload[:-1].decode())
    if k == "D":
        return ("DataRow", "")
    if k == "T":
        return ("RowDescription", describe_fields(payload))
    if k == "t":
        (n,) = struct.unpack("!h", payload[:2])
        return ("ParameterDescription", list(struct.unpack("!" + "I" * n, payload[2:2 + 4 * n])))
    if k == "E":
        fields = dict((p[:1].decode(), p[1:].decode("utf-8", "replace")) for p in payload.split(b"\0") if p)
        return ("ErrorResponse", (fields.get("V", fields.get("S")), fields.get("C"), fields.get("M")))
    if k == "N":
        return ("Notice", "")
    if k == "S":
        return ("ParameterStatus", "")
    if k == "K":
        return ("BackendKeyData", payload)
    if k == "R":
        return ("Auth", "")
    return (f"message {k!r}", "")


def expected_message(kind, rest):
    if kind == "RowDescription":
        return (kind, expected_fields(rest))
    if kind == "ParameterDescription":
        return (kind, ast.literal_eval(rest))
    if kind == "ReadyForQuery":
        return (kind, rest)
    if kind == "CommandComplete":
        return (kind, rest)
    if kind == "ErrorResponse":
        m = re.match(r"(\w+) (\w{5}): (.*)$", rest)
        return (kind, (m.group(1), m.group(2), m.group(3)))
    if kind == "DataRow":
        return (kind, int(rest.lstrip("x")))
    return (kind, "")


def collapse(messages):
    """Drops ignored messages and folds runs of DataRow into ("DataRow", n)."""
    out = []
    for kind, detail in messages:
        if kind in IGNORED:
            continue
        if kind == "DataRow":
            n = detail if isinstance(detail, int) else 1
            if out and out[-1][0] == "DataRow":
                out[-1] = ("DataRow", out[-1][1] + n)
            else:
                out.append(("DataRow", n))
            continue
        out.append((kind, detail))
    return out


# On catalog queries, Tarn's system catalogs type identifiers as text where PostgreSQL
# has `name`, `"char"` or `varchar`, and OIDs as oid (or int4) where PostgreSQL has an
# alias such as regclass; clients read all of these as strings or integers alike.
STRINGS = {18, 19, 25, 705, 1043}
OIDS = {23, 24, 26, 2202, 2205, 2206, 4089}
STRING_ARRAYS = {1002, 1003, 1009, 1015}


def tolerated(want, got):
    return any(want in s and got in s for s in (STRINGS, OIDS, STRING_ARRAYS))


def compare(expected, actual, user_data, soft):
    """Differences between PostgreSQL's answer and Tarn's, as text. Differences a
    client cannot tell apart on catalog queries go to `soft` (counted, not failed)."""
    diffs = []
    if not user_data:
        # Row counts of catalog queries are PostgreSQL's own; compare the shape only.
        expected = [(k, d) for k, d in expected if k != "DataRow"]
        actual = [(k, d) for k, d in actual if k != "DataRow"]
        expected = [(k, d.split(" ")[0] if k == "CommandComplete" and d.startswith("SELECT") else d) for k, d in expected]
        actual = [(k, d.split(" ")[0] if k == "CommandComplete" and d.startswith("SELECT") else d) for k, d in actual]
    kinds_e = [k for k, _ in expected]
    kinds_a = [k for k, _ in actual]
    if kinds_e != kinds_a:
        errors = [d for k, d in actual if k == "ErrorResponse"]
        return [(f"error {errors[0][1]} {errors[0][2]!r}; " if errors else "")
                + f"messages {kinds_a} where PostgreSQL sent {kinds_e}"]
    for (kind, want), (_, got) in zip(expected, actual):
        if kind == "RowDescription":
            if [f[0] for f in want] != [f[0] for f in got]:
                diffs.append(f"columns {[f[0] for f in got]} where PostgreSQL has {[f[0] for f in want]}")
                continue
            for w, g in zip(want, got):
                if w[1] != g[1]:
                    text = f"column {w[0]!r} has type {g[1]} where PostgreSQL has {w[1]}"
                    if not user_data and tolerated(w[1], g[1]):
                        soft.append(f"type {g[1]} for {w[1]}")
                    else:
                        diffs.append(text)
                if w[2] != g[2]:
                    diffs.append(f"column {w[0]!r} format binary={g[2]} where PostgreSQL's is binary={w[2]}")
                if w[3] != g[3] or (w[3] and w[4] != g[4]):
                    text = (f"column {w[0]!r} attributed to table column {g[4] if g[3] else None} "
                            f"where PostgreSQL's is {w[4] if w[3] else None}")
                    if user_data:
                        diffs.append(text)
                    else:
                        soft.append("system catalog column not attributed")
        elif kind == "ErrorResponse":
            if want[:2] != got[:2]:
                diffs.append(f"error {got} where PostgreSQL answered {want}")
        elif want != got:
            diffs.append(f"{kind} {got!r} where PostgreSQL sent {want!r}")
    return diffs


def cancel(port, key):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(struct.pack("!ii", 16, 80877102) + key)
    s.close()


def replay_connection(port, events, label, soft):
    """Replays one connection; returns (answers compared, differences)."""
    conn = Conn(port)
    diffs = []
    compared = 0
    i = 0
    statement = ""
    pending = []  # client messages sent since the last answer was read
    while i < len(events):
        direction, kind, rest = events[i]
        if direction == "<":
            i += 1
            continue
        if kind == "CancelRequest":
            i += 1
            continue
        if kind == "SSLRequest":
            conn.sock.sendall(struct.pack("!ii", 8, 80877103))
            answer = conn.recv_exact(1)
            if answer != b"N":
                diffs.append(f"{label}: SSLRequest answered {answer!r} (no TLS configured)")
            i += 1
            continue
        if kind == "StartupMessage":
            params = ast.literal_eval(rest.split(" ", 1)[1])
            body = struct.pack("!i", 196608) + b"".join(cstr(k) + cstr(v) for k, v in params.items()) + b"\0"
            conn.sock.sendall(struct.pack("!i", len(body) + 4) + body)
            while True:
                k, payload = conn.read()
                if k == b"K":
                    conn.key = payload
                if k == b"E":
                    raise SystemExit(f"{label}: startup refused: {server_message(k, payload)}")
                if k == b"Z":
                    break
            i += 1
            while i < len(events) and events[i][0] == "<":
                i += 1
            continue
        if kind in ("Query", "Parse"):
            statement = rest if kind == "Query" else rest.split(" q=", 1)[1]
        send_client(conn, kind, rest)
        pending.append(kind)
        i += 1
        if kind == "Terminate":
            break
        # The answer PostgreSQL gave to what was sent so far: the server lines up to
        # the next client message.
        expected = []
        j = i
        while j < len(events) and (events[j][0] == "<" or events[j][1] == "CancelRequest"):
            if events[j][0] == "<":
                expected.append(expected_message(events[j][1], events[j][2]))
            j += 1
        i = j
        if kind not in ("Sync", "Query", "Flush") and not expected:
            continue
        waits_for_ready = kind in ("Sync", "Query")
        timer = None
        if any(k == "ErrorResponse" and d[1] == "57014" for k, d in expected):
            timer = threading.Timer(0.5, cancel, (port, conn.key))
            timer.start()
        want = collapse(expected)
        got = []
        try:
            if waits_for_ready:
                while True:
                    k, payload = conn.read()
                    got.append(server_message(k, payload))
                    if k == b"Z":
                        break
            else:
                conn.sock.settimeout(3)
                try:
                    while len(collapse(got)) < len(want) or (
                        want and want[-1][0] == "DataRow" and collapse(got)[-1:] != want[-1:]
                    ):
                        k, payload = conn.read()
                        got.append(server_message(k, payload))
                except socket.timeout:
                    pass
                finally:
                    conn.sock.settimeout(30)
        except (EOFError, socket.timeout) as e:
            diffs.append(f"{label}: {statement[:120]!r}: {e}")
            break
        finally:
            if timer:
                timer.join()
        compared += 1
        user_data = bool(USER_DATA.search(statement)) and not CATALOG.search(statement)
        for d in compare(want, collapse(got), user_data, soft):
            diffs.append(f"{label}: {d} ({'+'.join(pending)}: {statement[:100]!r})")
        pending = []
    conn.sock.close()
    return compared, diffs


def known(trace, diff, used):
    for i, (t, pattern, _reason) in enumerate(KNOWN):
        if t in ("*", trace) and re.search(pattern, diff):
            used.add(i)
            return True
    return False


def main():
    if sys.argv[1] == "--fixture":
        print(FIXTURE)
        return
    port = int(sys.argv[1])
    failed = False
    used = set()
    replayed = set()
    for path in sys.argv[2:]:
        name = path.rsplit("/", 1)[-1]
        total = 0
        diffs = []
        soft = []
        for conn_id, events in parse_trace(path):
            if all(kind == "CancelRequest" for d, kind, _ in events if d == ">"):
                continue
            compared, found = replay_connection(port, events, f"{name}#{conn_id}", soft)
            total += compared
            diffs += found
        replayed.add(name)
        unexpected = [d for d in diffs if not known(name, d, used)]
        for d in diffs:
            print(("unexpected: " if d in unexpected else "known: ") + d)
        if soft:
            counts = {}
            for s in soft:
                counts[s] = counts.get(s, 0) + 1
            print(f"{name}: tolerated on catalog queries: " + ", ".join(f"{n} x {s}" for s, n in sorted(counts.items())))
        if unexpected:
            failed = True
            print(f"FAILED {name}: {len(unexpected)} unexpected differences in {total} answers")
        else:
            print(f"ok {name}: {total} answers compared, {len(diffs)} known differences")
    for i, (t, pattern, reason) in enumerate(KNOWN):
        if i not in used and (t == "*" or t in replayed):
            failed = True
            print(f"FAILED: known difference no longer seen, remove it from KNOWN: {t} {pattern!r} ({reason})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
