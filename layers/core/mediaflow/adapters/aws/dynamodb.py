"""DynamoDB stores: workflows (+ versions), runs (+ node steps), API keys, idempotency.

Every table has a partition key ``pk`` that starts with the tenant id (the idempotency table's keys
are built by callers with the tenant first) and, where items share a partition, a sort key ``sk``.
Documents are stored as one JSON string attribute (``doc``) next to the few attributes that queries,
conditions and TTL read, so numbers never turn into Decimals and the document shape stays the one the
embedded SQLite stores return.
"""

from __future__ import annotations

import heapq
import json
import secrets
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mediaflow.adapters.aws.clients import client_of, error_code, translate, translated
from mediaflow.clock import now_iso
from mediaflow.errors import Conflict, NotFound
from mediaflow.ids import hash_api_key, new_api_key
from mediaflow.ports import TERMINAL_RUN_STATUSES, check_run_status, new_run_identity

WORKFLOW = "workflow#"
VERSION = "version#"
MACHINE = "machine#"
RUN = "run#"
RUN_ITEM = "run"
JOB = "job#"
JOB_ITEM = "job"
STEP = "step#"
KEY = "key#"
BY_TIME_INDEX = "byTime"
BY_WORKFLOW_INDEX = "byWorkflow"
BY_HASH_INDEX = "byHash"
# Runs and jobs of one tenant are spread over this many index partitions (``{tenant}#{shard}``), so that a
# single busy tenant never concentrates its writes on one partition key (docs/scale.md). Reads of a tenant's
# list query every shard and merge. Changing it needs a re-index of existing items.
INDEX_SHARDS = 32


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _doc(item: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(item["doc"])
    return doc


def shard_of(identifier: str) -> int:
    """The index shard of a run or job id (stable across processes, unlike ``hash``)."""
    return zlib.crc32(identifier.encode()) % INDEX_SHARDS


def run_partition(tenant: str, run_id: str) -> str:
    """A run and its steps share one partition key of their own (never the tenant's alone)."""
    return f"{tenant}#{RUN}{run_id}"


def job_partition(tenant: str, job_id: str) -> str:
    return f"{tenant}#{JOB}{job_id}"


def shard_key(base: str, shard: int) -> str:
    return f"{base}#{shard:02d}"


def _conditional(error: BaseException) -> bool:
    return error_code(error) in ("ConditionalCheckFailedException", "TransactionCanceledException")


class DynamoTable:
    """One DynamoDB table, its boto3 resource made on first use."""

    def __init__(self, table_name: str, resource: Any = None, region: str | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = client_of(resource, "dynamodb", region, resource=True)
        self._table: Any = None

    @property
    def table(self) -> Any:
        if self._table is None:
            self._table = self._dynamodb.Table(self.table_name)
        return self._table

    def _put_if_unchanged(self, doc: dict[str, Any], item: dict[str, Any], what: str,
                          also: tuple[str, ...] = ()) -> bool:
        """Write ``doc`` only if the stored document (and the ``also`` attributes) are still ``item``'s; False
        when someone got there first."""
        from botocore.exceptions import ClientError

        condition = "#doc = :previous"
        names, values = {"#doc": "doc"}, {":previous": item["doc"]}
        for index, name in enumerate(also):
            names[f"#a{index}"] = name
            if item.get(name) is None:
                condition += f" AND attribute_not_exists(#a{index})"
            else:
                condition += f" AND #a{index} = :a{index}"
                values[f":a{index}"] = item[name]
        try:
            self.table.put_item(Item=self._item(doc), ConditionExpression=condition,  # type: ignore[attr-defined]
                                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as error:
            if _conditional(error):
                return False
            raise translate(error, what) from error
        return True

    def _query_sharded(self, index: str, hash_attribute: str, base: str, *, limit: int,
                       offset: int = 0) -> list[dict[str, Any]]:
        """The newest ``offset + limit`` items of a sharded index partition (``{base}#00`` .. ``#31``),
        merged newest first by the index's sort key, then ``offset`` skipped."""
        from boto3.dynamodb.conditions import Key

        wanted = offset + limit

        def newest(shard: int) -> list[dict[str, Any]]:
            with translated(self.table_name):
                page = self.table.query(IndexName=index, KeyConditionExpression=Key(hash_attribute).eq(
                    shard_key(base, shard)), ScanIndexForward=False, Limit=wanted)
            return list(page.get("Items", []))

        with ThreadPoolExecutor(max_workers=8) as pool:
            shards = list(pool.map(newest, range(INDEX_SHARDS)))
        sort_key = "gsi1sk" if hash_attribute == "gsi1pk" else "gsi2sk"
        merged = heapq.merge(*shards, key=lambda item: str(item[sort_key]), reverse=True)
        return [item for position, item in enumerate(merged) if position < wanted][offset:]

    def _count_sharded(self, index: str, hash_attribute: str, base: str) -> int:
        """How many items a sharded index partition holds (a COUNT query per shard)."""
        from boto3.dynamodb.conditions import Key

        total = 0
        with translated(self.table_name):
            for shard in range(INDEX_SHARDS):
                kwargs: dict[str, Any] = {"IndexName": index, "Select": "COUNT",
                                          "KeyConditionExpression": Key(hash_attribute).eq(shard_key(base, shard))}
                while True:
                    page = self.table.query(**kwargs)
                    total += int(page.get("Count", 0))
                    if "LastEvaluatedKey" not in page:
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return total

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        with translated(self.table_name):
            while True:
                page = self.table.query(**kwargs)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- workflows ---------------------------------------------------------------------------------------


def _version_sk(workflow_id: str, version: int) -> str:
    return f"{VERSION}{workflow_id}#{version:010d}"


class DynamoDBWorkflowStore(DynamoTable):
    """Workflows with optimistic concurrency and an immutable item per version (same contract as SQLite)."""

    def put(self, tenant: str, workflow: dict[str, Any], *, expected_version: int | None = None) -> dict[str, Any]:
        workflow_id = str(workflow.get("id") or uuid.uuid4().hex)
        with translated(f"workflow {workflow_id!r}"):
            current = self.table.get_item(Key={"pk": tenant, "sk": WORKFLOW + workflow_id},
                                          ConsistentRead=True).get("Item")
        current_version = int(current["version"]) if current else 0
        if expected_version is not None and expected_version != current_version:
            raise Conflict(f"workflow {workflow_id!r} is at version {current_version}, not {expected_version}",
                           field="version")
        version = current_version + 1
        stamp = now_iso()
        doc = {**workflow, "id": workflow_id, "tenant": tenant, "version": version,
               "status": str(workflow.get("status") or "active"),
               "createdAt": _doc(current)["createdAt"] if current else stamp, "updatedAt": stamp}
        body = _dumps(doc)
        head: dict[str, Any] = {
            "Put": {"TableName": self.table_name,
                    "Item": {"pk": tenant, "sk": WORKFLOW + workflow_id, "version": version, "status": doc["status"],
                             "name": str(doc.get("name") or ""), "updatedAt": stamp, "doc": body},
                    **({"ConditionExpression": "#version = :current",
                        "ExpressionAttributeNames": {"#version": "version"},
                        "ExpressionAttributeValues": {":current": current_version}} if current
                       else {"ConditionExpression": "attribute_not_exists(pk)"})}}
        snapshot = {"Put": {"TableName": self.table_name,
                            "Item": {"pk": tenant, "sk": _version_sk(workflow_id, version), "version": version,
                                     "createdAt": stamp, "doc": body},
                            "ConditionExpression": "attribute_not_exists(pk)"}}
        from botocore.exceptions import ClientError

        try:
            self.table.meta.client.transact_write_items(TransactItems=[head, snapshot])
        except ClientError as error:
            if _conditional(error):
                raise Conflict(f"workflow {workflow_id!r} changed concurrently (version {current_version})",
                               field="version") from error
            raise translate(error, f"workflow {workflow_id!r}") from error
        return doc

    def get(self, tenant: str, workflow_id: str) -> dict[str, Any]:
        with translated(f"workflow {workflow_id!r}"):
            item = self.table.get_item(Key={"pk": tenant, "sk": WORKFLOW + workflow_id}).get("Item")
        if item is None:
            raise NotFound(f"workflow {workflow_id!r} not found")
        return _doc(item)

    def get_version(self, tenant: str, workflow_id: str, version: int) -> dict[str, Any]:
        with translated(f"workflow {workflow_id!r}"):
            item = self.table.get_item(Key={"pk": tenant, "sk": _version_sk(workflow_id, version)}).get("Item")
        if item is None:
            raise NotFound(f"workflow {workflow_id!r} version {version} not found")
        return _doc(item)

    def versions(self, tenant: str, workflow_id: str) -> list[int]:
        from boto3.dynamodb.conditions import Key

        items = self._query_all(KeyConditionExpression=Key("pk").eq(tenant)
                                & Key("sk").begins_with(f"{VERSION}{workflow_id}#"),
                                ProjectionExpression="#version",
                                ExpressionAttributeNames={"#version": "version"})
        if not items:
            raise NotFound(f"workflow {workflow_id!r} not found")
        return sorted(int(item["version"]) for item in items)

    def list(self, tenant: str, **filters: Any) -> list[dict[str, Any]]:
        """Workflows of ``tenant``, newest first. Filters: ``status``, ``limit`` (default 100)."""
        from boto3.dynamodb.conditions import Attr, Key

        limit = int(filters.pop("limit", 100))
        status = filters.pop("status", None)
        if filters:
            raise TypeError(f"unknown workflow filters: {', '.join(sorted(filters))}")
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(tenant) & Key("sk").begins_with(WORKFLOW)}
        if status is not None:
            kwargs["FilterExpression"] = Attr("status").eq(status)
        docs = [_doc(item) for item in self._query_all(**kwargs)]
        docs.sort(key=lambda d: (d.get("updatedAt", ""), d["id"]), reverse=True)
        return docs[:limit]

    # -- deployed state machines (items next to the workflow; see mediaflow.cloud.launcher) ----------

    def machine(self, tenant: str, workflow_id: str, digest: str) -> dict[str, Any] | None:
        """The published state-machine version recorded for a definition digest, if any."""
        with translated(f"workflow {workflow_id!r}"):
            item = self.table.get_item(Key={"pk": tenant, "sk": f"{MACHINE}{workflow_id}#{digest}"}).get("Item")
        return _doc(item) if item else None

    def record_machine(self, tenant: str, workflow_id: str, digest: str, machine: dict[str, Any]) -> None:
        with translated(f"workflow {workflow_id!r}"):
            self.table.put_item(Item={"pk": tenant, "sk": f"{MACHINE}{workflow_id}#{digest}", "doc": _dumps(machine)})

    def delete(self, tenant: str, workflow_id: str) -> None:
        from boto3.dynamodb.conditions import Key
        from botocore.exceptions import ClientError

        try:
            self.table.delete_item(Key={"pk": tenant, "sk": WORKFLOW + workflow_id},
                                   ConditionExpression="attribute_exists(pk)")
        except ClientError as error:
            if _conditional(error):
                raise NotFound(f"workflow {workflow_id!r} not found") from error
            raise translate(error, f"workflow {workflow_id!r}") from error
        versions = [item for prefix in (VERSION, MACHINE) for item in self._query_all(
            KeyConditionExpression=Key("pk").eq(tenant) & Key("sk").begins_with(f"{prefix}{workflow_id}#"),
            ProjectionExpression="pk, sk")]
        with translated(f"workflow {workflow_id!r}"), self.table.batch_writer() as batch:
            for item in versions:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})


# -- runs --------------------------------------------------------------------------------------------

_RUN_FIELDS = {"status": "status", "input": "input", "output": "output", "error": "error", "progress": "progress",
               "startedAt": "startedAt", "started_at": "startedAt", "endedAt": "endedAt", "ended_at": "endedAt",
               "executionArn": "executionArn", "stateMachineArn": "stateMachineArn"}


# A run's status fields are kept on its item as well as in its document, so that ``pending -> running`` is one
# conditional UpdateItem with no read (docs/scale.md); a read overlays them on the document.
_STATUS_FIELDS = ("status", "startedAt")


def _run_doc(item: dict[str, Any]) -> dict[str, Any]:
    doc = _doc(item)
    for name in _STATUS_FIELDS:
        if item.get(name) is not None:
            doc[name] = item[name]
    return doc


class DynamoDBRunStore(DynamoTable):
    """Runs (one item each, the document in ``doc``, its status fields also on the item) and their node steps
    (append-only items)."""

    def __init__(self, table_name: str, resource: Any = None, region: str | None = None) -> None:
        super().__init__(table_name, resource, region)
        self._last_read: dict[tuple[str, str], dict[str, Any]] = {}

    def create_run(self, run: dict[str, Any]) -> dict[str, Any]:
        tenant, run_id, workflow_id, status = new_run_identity(run)
        stamp = now_iso()
        created = run.get("createdAt") or stamp
        doc = {"tenant": tenant, "runId": run_id, "workflowId": workflow_id, "version": int(run.get("version", 1)),
               "status": status, "input": run.get("input"), "output": run.get("output"), "error": run.get("error"),
               "progress": run.get("progress"), "createdAt": created, "startedAt": run.get("startedAt"),
               "endedAt": run.get("endedAt"), "updatedAt": stamp}
        for extra in ("executionArn", "stateMachineArn"):
            if run.get(extra):
                doc[extra] = run[extra]
        from botocore.exceptions import ClientError

        try:
            self.table.put_item(Item=self._item(doc), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _conditional(error):
                raise Conflict(f"run {run_id!r} already exists", field="runId") from error
            raise translate(error, f"run {run_id!r}") from error
        return doc

    def _item(self, doc: dict[str, Any]) -> dict[str, Any]:
        tenant, run_id, order = doc["tenant"], doc["runId"], f"{doc['createdAt']}#{doc['runId']}"
        shard = shard_of(run_id)
        item = {"pk": run_partition(tenant, run_id), "sk": RUN_ITEM, "status": doc["status"],
                "workflowId": doc["workflowId"], "gsi1pk": shard_key(tenant, shard), "gsi1sk": order,
                "gsi2pk": shard_key(f"{tenant}#{doc['workflowId']}", shard), "gsi2sk": order, "doc": _dumps(doc)}
        if doc.get("startedAt"):
            item["startedAt"] = doc["startedAt"]
        return item

    def update_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any]:
        """Set some of: status, input, output, error, progress, startedAt, endedAt, executionArn."""
        updated = self._update(tenant, run_id, fields, only_if_active=False)
        assert updated is not None
        return updated

    def finish_run(self, tenant: str, run_id: str, **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run is not finished yet; None when it already was."""
        return self._update(tenant, run_id, fields, only_if_active=True)

    def update_run_if(self, tenant: str, run_id: str, statuses: frozenset[str] | set[str],
                      **fields: Any) -> dict[str, Any] | None:
        """Like update_run, but only while the run's status is one of ``statuses``; None otherwise."""
        if fields and all(_RUN_FIELDS.get(name) in _STATUS_FIELDS for name in fields):
            return self._set_status_if(tenant, run_id, frozenset(statuses), fields)
        return self._update(tenant, run_id, fields, only_if_active=False, statuses=frozenset(statuses))

    def _set_status_if(self, tenant: str, run_id: str, statuses: frozenset[str],
                       fields: dict[str, Any]) -> dict[str, Any] | None:
        """Status fields only: one UpdateItem on the item's own attributes, conditional on its status."""
        from botocore.exceptions import ClientError

        if not statuses:
            return None
        names, values, sets = {"#status": "status"}, {}, []
        for index, (name, value) in enumerate(fields.items()):
            column = _RUN_FIELDS[name]
            if column == "status":
                check_run_status(value)
            names[f"#f{index}"] = column
            values[f":f{index}"] = value
            sets.append(f"#f{index} = :f{index}")
        allowed = []
        for index, status in enumerate(sorted(statuses)):
            values[f":s{index}"] = status
            allowed.append(f":s{index}")
        try:
            response = self.table.update_item(
                Key={"pk": run_partition(tenant, run_id), "sk": RUN_ITEM}, UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"#status IN ({', '.join(allowed)})", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        except ClientError as error:
            if _conditional(error):
                return None  # another status, or no such run
            raise translate(error, f"run {run_id!r}") from error
        return _run_doc(response["Attributes"])

    def _update(self, tenant: str, run_id: str, fields: dict[str, Any], *, only_if_active: bool,
                statuses: frozenset[str] | None = None) -> dict[str, Any] | None:

        for _attempt in range(10):  # optimistic: read, change the document, write if unchanged
            # The item this store just read (run_and_steps) is the first guess: the write is conditional,
            # so a stale guess costs one more read, never a lost update.
            item = self._last_read.pop((tenant, run_id), None) or self._get_item(tenant, run_id)
            doc = _run_doc(item)
            if only_if_active and doc["status"] in TERMINAL_RUN_STATUSES:
                return None
            if statuses is not None and doc["status"] not in statuses:
                return None
            for name, value in fields.items():
                column = _RUN_FIELDS.get(name)
                if column is None:
                    raise TypeError(f"unknown run field {name!r}")
                if column == "status":
                    check_run_status(value)
                doc[column] = value
            doc["updatedAt"] = now_iso()
            if self._put_if_unchanged(doc, item, f"run {run_id!r}", also=_STATUS_FIELDS):
                return doc
        raise Conflict(f"run {run_id!r} is being updated concurrently")

    def _get_item(self, tenant: str, run_id: str) -> dict[str, Any]:
        with translated(f"run {run_id!r}"):
            item = self.table.get_item(Key={"pk": run_partition(tenant, run_id), "sk": RUN_ITEM},
                                       ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"run {run_id!r} not found")
        return dict(item)

    def get_run(self, tenant: str, run_id: str) -> dict[str, Any]:
        return _run_doc(self._get_item(tenant, run_id))

    def list_runs(self, tenant: str, workflow_id: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, over every index shard of the tenant (or of the workflow)."""
        index, attribute, base = self._runs_index(tenant, workflow_id)
        return [_run_doc(item) for item in self._query_sharded(index, attribute, base, limit=limit, offset=offset)]

    def count_runs(self, tenant: str, workflow_id: str | None = None) -> int:
        return self._count_sharded(*self._runs_index(tenant, workflow_id))

    @staticmethod
    def _runs_index(tenant: str, workflow_id: str | None) -> tuple[str, str, str]:
        if workflow_id is None:
            return BY_TIME_INDEX, "gsi1pk", tenant
        return BY_WORKFLOW_INDEX, "gsi2pk", f"{tenant}#{workflow_id}"

    def record_step(self, tenant: str, run_id: str, step: dict[str, Any]) -> None:
        node_id = str(step.get("nodeId") or step.get("node_id") or "")
        order = f"{time.time_ns():020d}#{secrets.token_hex(3)}"
        with translated(f"run {run_id!r}"):
            self.table.put_item(Item={"pk": run_partition(tenant, run_id), "sk": f"{STEP}{order}", "nodeId": node_id,
                                      "recordedAt": now_iso(), "doc": _dumps(step)})

    def steps(self, tenant: str, run_id: str) -> list[dict[str, Any]]:
        """The steps of a run in the order they were recorded; NotFound when the run is not this tenant's."""
        return self.run_and_steps(tenant, run_id)[1]

    def run_and_steps(self, tenant: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run and its steps in one strongly consistent Query of the run's partition (the run item and
        its step items share it); NotFound when the run is not this tenant's."""
        from boto3.dynamodb.conditions import Key

        items = self._query_all(KeyConditionExpression=Key("pk").eq(run_partition(tenant, run_id)),
                                ConsistentRead=True)
        run = next((dict(item) for item in items if item["sk"] == RUN_ITEM), None)
        if run is None:
            raise NotFound(f"run {run_id!r} not found")
        self._last_read = {(tenant, run_id): run}  # one slot: only the next write of this run may use it
        return _run_doc(run), [_doc(item) for item in items if str(item["sk"]).startswith(STEP)]


# -- API keys ----------------------------------------------------------------------------------------


def _key_doc(item: dict[str, Any]) -> dict[str, Any]:
    return {"keyId": item["keyId"], "tenant": item["pk"], "name": item.get("name", ""),
            "scopes": sorted(item.get("scopes") or []), "revoked": bool(item.get("revoked")),
            "createdAt": item.get("createdAt"), "revokedAt": item.get("revokedAt")}


SECRET_PK = "#deployment"  # never a tenant id (tenant ids cannot start with #)


class DynamoDBKeyStore(DynamoTable):
    """API keys: only the SHA-256 of a key is stored (key format and hash as the embedded SQLiteKeyStore)."""

    def create_key(self, tenant: str, scopes: Sequence[str], *, name: str = "") -> tuple[str, dict[str, Any]]:
        key_id = secrets.token_hex(6)
        api_key = new_api_key(key_id)
        stamp = now_iso()
        item = {"pk": tenant, "sk": KEY + key_id, "keyId": key_id, "keyHash": hash_api_key(api_key), "name": name,
                "scopes": sorted(set(scopes)), "revoked": False, "createdAt": stamp}
        with translated("API key"):
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        return api_key, _key_doc(item)

    def lookup(self, api_key: str) -> dict[str, Any] | None:
        """The key's record when it exists and is not revoked, else None."""
        from boto3.dynamodb.conditions import Key

        with translated("API key"):
            items = self.table.query(IndexName=BY_HASH_INDEX,
                                     KeyConditionExpression=Key("keyHash").eq(hash_api_key(api_key))).get("Items", [])
        live = [item for item in items if not item.get("revoked")]
        return _key_doc(live[0]) if live else None

    def list_keys(self, tenant: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items = self._query_all(KeyConditionExpression=Key("pk").eq(tenant) & Key("sk").begins_with(KEY))
        return sorted((_key_doc(item) for item in items), key=lambda d: (d["createdAt"] or "", d["keyId"]))

    def signing_secret(self) -> bytes:
        """The deployment's secret for signed tokens (upload tokens, multipart handles): made once, with a
        conditional write so concurrent cold starts agree on one; the item has no keyHash, so no key matches."""
        from botocore.exceptions import ClientError

        where = {"pk": SECRET_PK, "sk": "signing-secret"}
        with translated("signing secret"):
            item = self.table.get_item(Key=where, ConsistentRead=True).get("Item")
        if item is None:
            try:
                self.table.put_item(Item={**where, "secret": secrets.token_bytes(32)},
                                    ConditionExpression="attribute_not_exists(pk)")
            except ClientError as error:
                if not _conditional(error):
                    raise translate(error, "signing secret") from error
            with translated("signing secret"):
                item = self.table.get_item(Key=where, ConsistentRead=True)["Item"]
        return bytes(item["secret"].value if hasattr(item["secret"], "value") else item["secret"])

    def revoke(self, tenant: str, key_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.table.update_item(Key={"pk": tenant, "sk": KEY + key_id}, ConditionExpression="attribute_exists(pk)",
                                   UpdateExpression="SET revoked = :true, revokedAt = :now",
                                   ExpressionAttributeValues={":true": True, ":now": now_iso()})
        except ClientError as error:
            if _conditional(error):
                raise NotFound(f"API key {key_id!r} not found") from error
            raise translate(error, "API key") from error


# -- idempotency -------------------------------------------------------------------------------------


class DynamoDBIdempotency(DynamoTable):
    """Claim/complete records with a TTL attribute ``expiresAt`` (same contract as SQLiteIdempotency)."""

    def __init__(self, table_name: str, resource: Any = None, region: str | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(table_name, resource, region)
        self.clock = clock

    def claim(self, key: str, ttl_seconds: int = 3600) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        now = self.clock()
        try:
            self.table.put_item(
                Item={"pk": key, "status": "in_progress", "expiresAt": int(now + ttl_seconds), "createdAt": now_iso()},
                ConditionExpression="attribute_not_exists(pk) OR expiresAt <= :now",
                ExpressionAttributeValues={":now": int(now)})
            return None
        except ClientError as error:
            if not _conditional(error):
                raise translate(error, "idempotency record") from error
        with translated("idempotency record"):
            item = self.table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
        if item is not None and item.get("status") == "completed":
            result: dict[str, Any] = json.loads(item["result"])
            return result
        raise Conflict(f"request {key!r} is already in progress", field="idempotencyKey")

    def complete(self, key: str, result: dict[str, Any], ttl_seconds: int = 3600) -> None:
        with translated("idempotency record"):
            self.table.put_item(Item={"pk": key, "status": "completed", "result": _dumps(result),
                                      "expiresAt": int(self.clock() + ttl_seconds), "createdAt": now_iso()})

    def release(self, key: str) -> None:
        """Drop an in-progress claim (the work failed) so a retry can claim the key again."""
        from botocore.exceptions import ClientError

        try:
            self.table.delete_item(Key={"pk": key}, ConditionExpression="#s = :in_progress",
                                   ExpressionAttributeNames={"#s": "status"},
                                   ExpressionAttributeValues={":in_progress": "in_progress"})
        except ClientError as error:
            if not _conditional(error):
                raise translate(error, "idempotency record") from error


# -- jobs --------------------------------------------------------------------------------------------

JOB_STATUSES = frozenset({"pending", "processing", "completed", "failed", "cancelled"})


class DynamoDBJobStore(DynamoTable):
    """Jobs as JSON documents keyed by (tenant, jobId), as the embedded SQLiteJobStore."""

    def create_job(self, job: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        job_id = str(job["jobId"])
        stamp = now_iso()
        doc = {"status": "pending", **job, "createdAt": stamp, "updatedAt": stamp}
        _check_job(doc["status"])
        try:
            self.table.put_item(Item=self._item(doc), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _conditional(error):
                raise Conflict(f"job {job_id!r} already exists", field="jobId") from error
            raise translate(error, f"job {job_id!r}") from error
        return doc

    def _item(self, doc: dict[str, Any]) -> dict[str, Any]:
        tenant, job_id = str(doc["tenant"]), str(doc["jobId"])
        return {"pk": job_partition(tenant, job_id), "sk": JOB_ITEM, "status": doc["status"],
                "gsi1pk": shard_key(tenant, shard_of(job_id)), "gsi1sk": f"{doc['createdAt']}#{job_id}",
                "doc": _dumps(doc)}

    def get_job(self, tenant: str, job_id: str) -> dict[str, Any]:
        with translated(f"job {job_id!r}"):
            item = self.table.get_item(Key={"pk": job_partition(tenant, job_id), "sk": JOB_ITEM},
                                           ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"job {job_id!r} not found")
        return _doc(item)

    def update_job(self, tenant: str, job_id: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the job document (``status`` checked); optimistic on the stored document."""

        if "status" in fields:
            _check_job(fields["status"])
        for _attempt in range(10):
            with translated(f"job {job_id!r}"):
                item = self.table.get_item(Key={"pk": job_partition(tenant, job_id), "sk": JOB_ITEM},
                                           ConsistentRead=True).get("Item")
            if item is None:
                raise NotFound(f"job {job_id!r} not found")
            doc = {**_doc(item), **fields, "updatedAt": now_iso()}
            if self._put_if_unchanged(doc, item, f"job {job_id!r}"):
                return doc
        raise Conflict(f"job {job_id!r} is being updated concurrently")

    def list_jobs(self, tenant: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first, over every index shard of the tenant."""
        return [_doc(item) for item in self._query_sharded(BY_TIME_INDEX, "gsi1pk", tenant, limit=limit)]


def _check_job(status: Any) -> None:
    if status not in JOB_STATUSES:
        raise ValueError(f"job status must be one of {', '.join(sorted(JOB_STATUSES))}, not {status!r}")
