"""Mindia's documented requests, exactly as doc 003 prints them (checked against the document by
tests/compat/test_seeds_verbatim.py when shared/seeds is beside the checkout)."""

CREATE = """POST /api/v0/workflows
Authorization: Bearer <api_key>
Content-Type: application/json

{
  "name": "Auto Process Images",
  "description": "Moderate, detect objects, and colorize uploaded images",
  "enabled": true,
  "trigger_on_upload": true,
  "stop_on_failure": true,
  "media_types": ["image"],
  "folder_ids": null,
  "content_types": null,
  "metadata_filter": null,
  "steps": [
    { "action": "plugin", "plugin_name": "aws_rekognition_moderation" },
    { "action": "plugin", "plugin_name": "aws_rekognition" },
    { "action": "plugin", "plugin_name": "replicate_deoldify" }
  ]
}"""

TRIGGER = """POST /api/v0/workflows/:workflow_id/trigger/:media_id
Authorization: Bearer <api_key>"""

LIST = "GET /api/v0/workflows?limit=50&offset=0"
GET = "GET /api/v0/workflows/:id"
UPDATE = "PUT /api/v0/workflows/:id"
DELETE = "DELETE /api/v0/workflows/:id"
EXECUTIONS = "GET /api/v0/workflows/:id/executions?limit=50&offset=0"
EXECUTION = "GET /api/v0/workflow-executions/:id"


def http_request(text: str, values: dict[str, str]) -> tuple[str, str, dict[str, str], str | None]:
    """(method, path, headers, body) of a documented HTTP request with ``:params`` and ``<api_key>`` filled."""
    for name, value in values.items():
        text = text.replace(name, value)
    head, _, body = text.partition("\n\n")
    first, *header_lines = head.split("\n")
    method, path = first.split(" ", 1)
    headers = dict(line.split(": ", 1) for line in header_lines)
    return method, path, headers, body or None
