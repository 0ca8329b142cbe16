"""CLI commands against a deployed stack (boto3, the caller's AWS credentials): the first API key, keys
made before the usage plan, and the state machines the app created, which `sam delete` leaves behind."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mediaflow.console import LazyConsole

console = LazyConsole(stderr=True, highlight=False)
DEPLOYMENT_TAG = "mediaflow:deployment"


def stack_outputs(stack: str, region: str | None = None) -> dict[str, str]:
    """The CloudFormation outputs of ``stack`` (a clear error when it has none of ours)."""
    import boto3

    [described] = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if "ApiKeysTableName" not in outputs:
        raise SystemExit(f"stack {stack!r} has no ApiKeysTableName output: is it a mediaflow stack?")
    return outputs


def key_store(args: argparse.Namespace) -> Any:
    """The stack's key store, joined to its usage plan when it has one."""
    import boto3

    from mediaflow.adapters.aws.dynamodb import DynamoDBKeyStore
    from mediaflow.adapters.aws.usage_plan import UsagePlanKeys, UsagePlanKeyStore

    outputs = stack_outputs(args.stack, args.region) if args.stack else {}
    table = args.table or outputs["ApiKeysTableName"]
    store = DynamoDBKeyStore(table, boto3.resource("dynamodb", region_name=args.region))
    plan_id = getattr(args, "usage_plan", None) or outputs.get("UsagePlanId")
    if not plan_id:
        return store
    prefix = outputs.get("ResourcePrefix") or table.removesuffix("-api-keys")
    return UsagePlanKeyStore(store, UsagePlanKeys(plan_id, prefix, region=args.region))


def create_key(args: argparse.Namespace, scopes: list[str]) -> int:
    api_key, record = key_store(args).create_key(args.tenant, scopes, name=args.name)
    sys.stdout.write(api_key + "\n")
    console.print(f"key {record['keyId']} for tenant {record['tenant']} ({', '.join(record['scopes'])}); "
                  "shown once: store it now")
    return 0


def cmd_sync_keys(args: argparse.Namespace) -> int:
    from mediaflow.adapters.aws.usage_plan import UsagePlanKeyStore, register_existing

    store = key_store(args)
    if not isinstance(store, UsagePlanKeyStore):
        console.print("this stack has no usage plan: nothing to register")
        return 1
    count = register_existing(store.store, store.plan)
    console.print(f"{count} key(s) registered with usage plan {store.plan.usage_plan_id}")
    return 0


def deployment_machines(sfn: Any, prefix: str, *, include_untagged: bool = False) -> list[str]:
    """ARNs of the state machines named ``{prefix}-...`` and tagged ``mediaflow:deployment={prefix}``."""
    found: list[str] = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page.get("stateMachines", []):
            if not machine["name"].startswith(f"{prefix}-"):
                continue
            tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(
                resourceArn=machine["stateMachineArn"]).get("tags", [])}
            if tags.get(DEPLOYMENT_TAG) == prefix or (include_untagged and DEPLOYMENT_TAG not in tags):
                found.append(machine["stateMachineArn"])
    return found


def cmd_delete_machines(args: argparse.Namespace) -> int:
    import boto3

    prefix = args.prefix or stack_outputs(args.stack, args.region)["ResourcePrefix"]
    sfn = boto3.client("stepfunctions", region_name=args.region)
    machines = deployment_machines(sfn, prefix, include_untagged=args.include_untagged)
    for arn in machines:
        for alias in sfn.list_state_machine_aliases(stateMachineArn=arn).get("stateMachineAliases", []):
            sfn.delete_state_machine_alias(stateMachineAliasArn=alias["stateMachineAliasArn"])
        sfn.delete_state_machine(stateMachineArn=arn)
        sys.stdout.write(arn + "\n")
    console.print(f"deleted {len(machines)} state machine(s) of {prefix} (running executions finish first)")
    return 0


def cmd_output(args: argparse.Namespace) -> int:
    outputs = stack_outputs(args.stack, args.region)
    if args.name not in outputs:
        console.print(f"no output {args.name!r}; the stack has {', '.join(sorted(outputs))}")
        return 1
    sys.stdout.write(outputs[args.name] + "\n")
    return 0


def stack_options(parser: argparse.ArgumentParser, *, table: bool = False) -> None:
    parser.add_argument("--stack", default=None, help="CloudFormation stack name (reads its outputs)")
    if table:
        parser.add_argument("--table", default=None, help="the api-keys table, instead of --stack")
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS CLI's)")


def register(sub: Any) -> None:
    p = sub.add_parser("stack", help="operate a deployed stack: register keys, delete its state machines")
    actions = p.add_subparsers(dest="action", required=True, help="what to do")

    q = actions.add_parser("output", help="print one output of the stack (ApiUrl, UploadsBucketName, ...)")
    q.add_argument("name", help="the output's key: ApiUrl, UploadsBucketName, ...")
    stack_options(q)
    q.set_defaults(handler=cmd_output)

    q = actions.add_parser("sync-keys", help="register the keys made before the usage plan existed")
    stack_options(q, table=True)
    q.add_argument("--usage-plan", default=None, help="usage plan id, with --table")
    q.set_defaults(handler=cmd_sync_keys)

    q = actions.add_parser("delete-machines", help="delete the state machines the app created (teardown)")
    stack_options(q)
    q.add_argument("--prefix", default=None, help="{NamePrefix}-{Stage}, instead of --stack")
    q.add_argument("--include-untagged", action="store_true",
                   help="also machines named {prefix}-... without the mediaflow:deployment tag (older ones)")
    q.set_defaults(handler=cmd_delete_machines)
