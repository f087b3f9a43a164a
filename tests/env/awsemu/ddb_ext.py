"""DynamoDB multi-Region strong consistency (MRSC) on top of moto's per-region DynamoDB.

moto keeps one DynamoDB backend per region and ignores UpdateTable's
ReplicaUpdates.  This module adds what an MRSC global table is on AWS: one
table, created in one region and given replicas (and optionally a witness) in
two more regions of the same region set with

    UpdateTable(TableName, ReplicaUpdates=[{"Create": {"RegionName": r}}, ...],
                [GlobalTableWitnessUpdates=[{"Create": {"RegionName": w}}],]
                MultiRegionConsistency="STRONG")

which every replica region then serves identically.  The emulation keeps the
items once, in the moto backend of the region the table was created in (its
"home"), and routes every data-plane call made in a replica region there: a
conditional write in one region and a ConsistentRead in another are
serialized by the extension's lock, so they are linearizable, as MRSC is.

Region loss is the server's outage switch with services ["dynamodb"]: the
lost region's endpoint answers nothing (or 503), while the others keep
working as long as a majority of the region set (replicas plus witness) has
no DynamoDB outage.  Without a majority, writes and strongly consistent reads
fail with HTTP 500 InternalServerError, as MRSC refuses them when it cannot
reach a quorum; eventually consistent reads still answer.

Thread-safety: MRSC is only touched under EXT.lock (the server calls route()
and answer() with it held).
"""

from __future__ import annotations

import json

# The MRSC region sets (an MRSC table spans three regions of one set).
REGION_SETS = (
    frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
)
NS = "com.amazonaws.dynamodb.v20120810#"
# Calls that write or read strongly consistently and so need a quorum.
_WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


class DdbError(Exception):
    """An error answered in DynamoDB's wire format."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _table_name(value):
    """A TableName parameter may be a name or a table ARN."""
    if isinstance(value, str) and value.startswith("arn:") and "/" in value:
        return value.split(":table/", 1)[-1].split("/", 1)[0]
    return value


def tables_of(params):
    """The table names a DynamoDB request names."""
    names = set()
    if params.get("TableName"):
        names.add(_table_name(params["TableName"]))
    for key in ("RequestItems",):
        if isinstance(params.get(key), dict):
            names.update(_table_name(t) for t in params[key])
    for item in params.get("TransactItems") or []:
        for op in (item or {}).values():
            if isinstance(op, dict) and op.get("TableName"):
                names.add(_table_name(op["TableName"]))
    return names


class Group:
    """One MRSC table: its home region (where moto keeps it), replicas, witness."""

    def __init__(self, table, home):
        self.table, self.home = table, home
        self.replicas = [home]
        self.witnesses = []

    def regions(self):
        return self.replicas + self.witnesses

    def to_dict(self):
        return {
            "table": self.table,
            "home": self.home,
            "replicas": list(self.replicas),
            "witnesses": list(self.witnesses),
        }


class Mrsc:
    """The MRSC tables of the emulator, by (region, table)."""

    def __init__(self):
        self.groups = {}  # (home, table) -> Group

    def reset(self):
        self.groups.clear()

    def group_of(self, region, table):
        for g in self.groups.values():
            if g.table == table and region in g.replicas:
                return g
        return None

    # -- routing -------------------------------------------------------------

    def route(self, region, action, params, outages):
        """The home region the call must be served from, or None (moto as is).

        Raises DdbError for what MRSC refuses: a call without a quorum, or
        one mixing MRSC tables of different homes.
        """
        groups = {self.group_of(region, t) for t in tables_of(params)}
        groups.discard(None)
        if not groups:
            return None
        if len(groups) > 1 or len({g.home for g in groups}) > 1:
            raise DdbError(400, "ValidationException", "awsemu: one MRSC region set per call")
        g = groups.pop()
        needs_quorum = action in _WRITES or (
            action in _READS and bool(params.get("ConsistentRead"))
        )
        if needs_quorum:
            lost = [r for r in g.regions() if _ddb_outage(outages.get(r))]
            if len(lost) * 2 >= len(g.regions()):
                raise DdbError(
                    500,
                    "InternalServerError",
                    "Multi-Region strong consistency: no quorum "
                    f"(regions unavailable: {', '.join(sorted(lost))})",
                )
        return g.home

    # -- UpdateTable(ReplicaUpdates | GlobalTableWitnessUpdates) ---------------

    def update_table(self, region, params, backend_of):
        """Apply replica/witness updates; returns the TableDescription."""
        table = _table_name(params.get("TableName"))
        g = self.group_of(region, table)
        home = g.home if g else region
        backend = backend_of(home)
        t = backend.tables.get(table)
        if t is None:
            raise DdbError(
                400, "ResourceNotFoundException", f"Requested resource not found: Table: {table}"
            )
        consistency = params.get("MultiRegionConsistency")
        if consistency not in (None, "STRONG"):
            raise DdbError(
                400,
                "ValidationException",
                "awsemu: only MultiRegionConsistency STRONG replicas are emulated",
            )
        creates, deletes = [], []
        for u in params.get("ReplicaUpdates") or []:
            if "Create" in u:
                creates.append(("replica", u["Create"]["RegionName"]))
            elif "Delete" in u:
                deletes.append(("replica", u["Delete"]["RegionName"]))
            else:
                raise DdbError(
                    400, "ValidationException", "awsemu: only Create and Delete replica updates"
                )
        for u in params.get("GlobalTableWitnessUpdates") or []:
            if "Create" in u:
                creates.append(("witness", u["Create"]["RegionName"]))
            elif "Delete" in u:
                deletes.append(("witness", u["Delete"]["RegionName"]))
        if creates and deletes:
            raise DdbError(
                400, "ValidationException", "Cannot create and delete replicas in one request"
            )
        if creates:
            if g is None and consistency != "STRONG":
                raise DdbError(
                    400,
                    "ValidationException",
                    "awsemu: replicas need MultiRegionConsistency STRONG "
                    "(eventually consistent global tables are not emulated)",
                )
            if g is None and len(t):
                raise DdbError(
                    400,
                    "ValidationException",
                    "A table must be empty to become a multi-Region strongly consistent table",
                )
            cur = g or Group(table, home)
            replicas = cur.replicas + [r for k, r in creates if k == "replica"]
            witnesses = cur.witnesses + [r for k, r in creates if k == "witness"]
            regions = replicas + witnesses
            if len(set(regions)) != len(regions):
                raise DdbError(400, "ValidationException", "A region appears twice")
            if not any(set(regions) <= s for s in REGION_SETS):
                raise DdbError(
                    400,
                    "ValidationException",
                    "Multi-Region strong consistency needs regions of one region set",
                )
            if len(regions) != 3 or len(witnesses) > 1:
                raise DdbError(
                    400,
                    "ValidationException",
                    "Multi-Region strong consistency needs exactly three regions: "
                    "three replicas, or two replicas and a witness",
                )
            for r in replicas:
                if r != home and table in backend_of(r).tables:
                    raise DdbError(
                        400, "ValidationException", f"Table {table} already exists in {r}"
                    )
            cur.replicas, cur.witnesses = replicas, witnesses
            self.groups[(home, table)] = cur
            g = cur
        elif deletes:
            if g is None:
                raise DdbError(400, "ValidationException", f"Table {table} has no replicas")
            for kind, r in deletes:
                if kind == "replica" and r == home:
                    raise DdbError(
                        400,
                        "ValidationException",
                        "awsemu: the table's first region cannot be removed",
                    )
                lst = g.replicas if kind == "replica" else g.witnesses
                if r not in lst:
                    raise DdbError(400, "ValidationException", f"No {kind} in {r}")
                lst.remove(r)
            if len(g.regions()) == 1:
                del self.groups[(home, table)]
        desc = t.describe(base_key="TableDescription")
        return self.decorate(
            region, json.dumps(desc, default=_json_default).encode(), "UpdateTable"
        )

    def refuse_delete(self, region, params):
        table = _table_name(params.get("TableName"))
        g = self.group_of(region, table)
        if g is not None:
            raise DdbError(
                400,
                "ValidationException",
                f"Table {table} has replicas: remove them first "
                "(UpdateTable ReplicaUpdates Delete)",
            )

    # -- answers -------------------------------------------------------------

    def decorate(self, region, body, action, home=None):
        """Answer as region's replica: its ARNs, and the replica set on describes."""
        home = home or region
        if home != region:
            body = body.replace(
                f"arn:aws:dynamodb:{home}:".encode(), f"arn:aws:dynamodb:{region}:".encode()
            )
        if action not in ("DescribeTable", "UpdateTable", "ListTables"):
            return body
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        if action == "ListTables":
            names = set(doc.get("TableNames", []))
            names.update(g.table for g in self.groups.values() if region in g.replicas)
            doc["TableNames"] = sorted(names)
            return json.dumps(doc).encode()
        key = "Table" if "Table" in doc else "TableDescription"
        desc = doc.get(key)
        g = self.group_of(region, desc.get("TableName")) if desc else None
        if g is None:
            return body
        desc["Replicas"] = [
            {"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in g.replicas if r != region
        ]
        if g.witnesses:
            desc["GlobalTableWitnesses"] = [
                {"RegionName": r, "WitnessStatus": "ACTIVE"} for r in g.witnesses
            ]
        desc["MultiRegionConsistency"] = "STRONG"
        desc["GlobalTableVersion"] = "2019.11.21"
        return json.dumps(doc).encode()


def _json_default(value):
    """Datetimes as DynamoDB sends them: epoch seconds."""
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _ddb_outage(outage):
    return bool(outage) and (not outage.get("services") or "dynamodb" in outage["services"])


def error_body(err):
    return json.dumps({"__type": NS + err.code, "message": err.message}).encode()
