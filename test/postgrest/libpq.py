"""A minimal ctypes binding of libpq (libpq.so.5), enough to speak to the
server the way PostgREST's driver (hasql) does: prepared statements whose
parameters carry the type OID hasql's encoder names (`unknown`, 705, for
almost all of PostgREST's; `json`, 114, for a GET's arguments) and are sent
as text, plus LISTEN/NOTIFY for tests of the change notifications.

Standard library only: PyPI is out of reach, and psycopg is not installed.
"""
import ctypes
import ctypes.util
import select

UNKNOWN_OID = 705
JSON_OID = 114

# ConnStatusType, ExecStatusType
CONNECTION_OK = 0
PGRES_EMPTY_QUERY = 0
PGRES_COMMAND_OK = 1
PGRES_TUPLES_OK = 2
PGRES_FATAL_ERROR = 7

# PQresultErrorField codes (postgres_ext.h)
PG_DIAG_SEVERITY = ord("S")
PG_DIAG_SQLSTATE = ord("C")
PG_DIAG_MESSAGE_PRIMARY = ord("M")
PG_DIAG_MESSAGE_DETAIL = ord("D")
PG_DIAG_MESSAGE_HINT = ord("H")
PG_DIAG_COLUMN_NAME = ord("c")
PG_DIAG_CONSTRAINT_NAME = ord("n")


def _load():
    for name in ("libpq.so.5", ctypes.util.find_library("pq")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    raise OSError("libpq.so.5 not found (apt-get install libpq5)")


_pq = _load()
_c_char_pp = ctypes.POINTER(ctypes.c_char_p)


def _fn(name, restype, *argtypes):
    f = getattr(_pq, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


PQconnectdb = _fn("PQconnectdb", ctypes.c_void_p, ctypes.c_char_p)
PQstatus = _fn("PQstatus", ctypes.c_int, ctypes.c_void_p)
PQerrorMessage = _fn("PQerrorMessage", ctypes.c_char_p, ctypes.c_void_p)
PQfinish = _fn("PQfinish", None, ctypes.c_void_p)
PQexec = _fn("PQexec", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)
PQprepare = _fn("PQprepare", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_uint))
PQexecPrepared = _fn("PQexecPrepared", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                     ctypes.c_int, _c_char_pp, ctypes.POINTER(ctypes.c_int),
                     ctypes.POINTER(ctypes.c_int), ctypes.c_int)
PQresultStatus = _fn("PQresultStatus", ctypes.c_int, ctypes.c_void_p)
PQresultErrorField = _fn("PQresultErrorField", ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
PQresultErrorMessage = _fn("PQresultErrorMessage", ctypes.c_char_p, ctypes.c_void_p)
PQntuples = _fn("PQntuples", ctypes.c_int, ctypes.c_void_p)
PQnfields = _fn("PQnfields", ctypes.c_int, ctypes.c_void_p)
PQfname = _fn("PQfname", ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
PQgetvalue = _fn("PQgetvalue", ctypes.POINTER(ctypes.c_char), ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
PQgetlength = _fn("PQgetlength", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
PQgetisnull = _fn("PQgetisnull", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
PQclear = _fn("PQclear", None, ctypes.c_void_p)
PQsocket = _fn("PQsocket", ctypes.c_int, ctypes.c_void_p)
PQconsumeInput = _fn("PQconsumeInput", ctypes.c_int, ctypes.c_void_p)
PQnotifies = _fn("PQnotifies", ctypes.c_void_p, ctypes.c_void_p)
PQfreemem = _fn("PQfreemem", None, ctypes.c_void_p)


class PGnotify(ctypes.Structure):
    _fields_ = [("relname", ctypes.c_char_p), ("be_pid", ctypes.c_int),
                ("extra", ctypes.c_char_p), ("next", ctypes.c_void_p)]


class PgError(Exception):
    """A statement the server refused: its SQLSTATE and message fields."""

    def __init__(self, sqlstate, message, detail=None, hint=None, column=None, constraint=None):
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
        self.column = column
        self.constraint = constraint


class ConnectionError_(Exception):
    pass


def _text(b):
    return None if b is None else b.decode("utf-8")


class Result:
    """What one statement returned: rows of str/None (text format), or the error."""

    def __init__(self, res):
        self.status = PQresultStatus(res)
        self.error = None
        self.rows = []
        self.columns = []
        if self.status == PGRES_FATAL_ERROR or self.status not in (
                PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY):
            field = lambda code: _text(PQresultErrorField(res, code))
            self.error = PgError(field(PG_DIAG_SQLSTATE) or "XX000",
                                 field(PG_DIAG_MESSAGE_PRIMARY) or _text(PQresultErrorMessage(res)) or "",
                                 field(PG_DIAG_MESSAGE_DETAIL), field(PG_DIAG_MESSAGE_HINT),
                                 field(PG_DIAG_COLUMN_NAME), field(PG_DIAG_CONSTRAINT_NAME))
            return
        nf = PQnfields(res)
        self.columns = [_text(PQfname(res, j)) for j in range(nf)]
        for i in range(PQntuples(res)):
            row = []
            for j in range(nf):
                if PQgetisnull(res, i, j):
                    row.append(None)
                else:
                    n = PQgetlength(res, i, j)
                    row.append(ctypes.string_at(PQgetvalue(res, i, j), n).decode("utf-8"))
            self.rows.append(row)


class Connection:
    """One libpq connection; statements are prepared once per text, as hasql does."""

    def __init__(self, conninfo):
        self._conn = PQconnectdb(conninfo.encode())
        if not self._conn or PQstatus(self._conn) != CONNECTION_OK:
            msg = _text(PQerrorMessage(self._conn)) if self._conn else "out of memory"
            if self._conn:
                PQfinish(self._conn)
            self._conn = None
            raise ConnectionError_(msg)
        self._prepared = {}

    def close(self):
        if self._conn:
            PQfinish(self._conn)
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _take(self, res):
        if not res:
            raise ConnectionError_(_text(PQerrorMessage(self._conn)))
        try:
            return Result(res)
        finally:
            PQclear(res)

    def exec(self, sql):
        """A simple-protocol statement (several allowed); returns the last Result."""
        return self._take(PQexec(self._conn, sql.encode()))

    def prepare(self, sql, types):
        """Prepares sql with these parameter type OIDs; cached by text and types."""
        key = (sql, tuple(types))
        name = self._prepared.get(key)
        if name is not None:
            return name, None
        name = f"s{len(self._prepared) + 1}"
        oids = (ctypes.c_uint * max(len(types), 1))(*types)
        r = self._take(PQprepare(self._conn, name.encode(), sql.encode(), len(types), oids))
        if r.error is not None:
            return None, r
        self._prepared[key] = name
        return name, None

    def execute(self, sql, params=(), types=None):
        """Prepared statement, parameters sent as text (None is SQL NULL), typed
        unknown (OID 705) unless types gives the OIDs."""
        types = list(types) if types is not None else [UNKNOWN_OID] * len(params)
        name, failed = self.prepare(sql, types)
        if failed is not None:
            return failed
        n = len(params)
        values = (ctypes.c_char_p * max(n, 1))(
            *[None if p is None else (p if isinstance(p, bytes) else p.encode("utf-8")) for p in params])
        return self._take(PQexecPrepared(self._conn, name.encode(), n, values, None, None, 0))

    def socket(self):
        return PQsocket(self._conn)

    def notifies(self, timeout=0.0):
        """Notifications received so far, waiting up to timeout seconds for the first."""
        out = []
        if timeout > 0:
            select.select([self.socket()], [], [], timeout)
        PQconsumeInput(self._conn)
        while True:
            p = PQnotifies(self._conn)
            if not p:
                break
            n = ctypes.cast(p, ctypes.POINTER(PGnotify)).contents
            out.append((_text(n.relname), n.be_pid, _text(n.extra)))
            PQfreemem(p)
        return out
