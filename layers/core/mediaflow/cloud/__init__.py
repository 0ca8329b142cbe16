"""The AWS application: the use cases behind the Lambda entry points in functions/.

- :mod:`mediaflow.cloud.launcher`: Step Functions runs (one published version per definition).
- :mod:`mediaflow.cloud.workflows`: save / set status / delete a workflow and keep Step Functions in step.
- :mod:`mediaflow.cloud.trigger`: S3 "Object Created" -> matching active workflows -> one run each.
- :mod:`mediaflow.cloud.nodes`: a node Task, idempotent per (run, nodes, media).
- :mod:`mediaflow.cloud.runs`: finish a run from its execution's end (status change or Express runner).
- :mod:`mediaflow.cloud.auth`: the API Gateway Lambda authorizer.
- :mod:`mediaflow.cloud.bootstrap`: the composition root: adapters, API context, task environment,
  launcher and webhook dispatcher of one deployment, built once per Lambda container.
"""
