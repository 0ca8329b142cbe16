"""Convertly's documented requests, exactly as docs 000 and 001 print them (tests/compat/test_seeds_verbatim.py
checks them against the documents when shared/seeds is beside the checkout)."""

WORKFLOW_PAYLOAD = """{
  "name": "Convert + compress for the web",
  "template": "convert-compress-post",
  "outputFormat": "webp",
  "compressionMode": "balanced",
  "isActive": true,
  "definition": {
    "outputFormat": "webp",
    "compressionLevel": 75,
    "audioOutputFormat": "mp3",
    "nodes": [
      { "id": "upload", "data": { "kind": "upload" } },
      { "id": "convert", "data": { "kind": "convert" } },
      { "id": "compress", "data": { "kind": "compress" } },
      { "id": "storage", "data": { "kind": "storage" } }
    ],
    "edges": [
      { "source": "upload", "target": "convert" },
      { "source": "convert", "target": "compress" },
      { "source": "compress", "target": "storage" }
    ],
    "uploadSource": "api",
    "uploadLogicGate": "and",
    "uploadConditions": [],
    "storageDestination": "convertly-storage",
    "renamePattern": "{original}-{format}",
    "resizeWidth": "1920"
  }
}"""

RUN_FILE = """curl -X POST "https://convertly.sh/api/workflows/<workflow-id>/run" \\
  -H "Authorization: Bearer $CONVERTLY_API_KEY" \\
  -F "file=@./hero.png\""""

CREATE_JOB = """curl -X POST "https://convertly.sh/api/jobs" \\
  -H "Authorization: Bearer $CONVERTLY_API_KEY" \\
  -F "jobType=convert" \\
  -F "saveToStorage=true" \\
  -F "files=@./input.png" \\
  -F 'formats=["webp"]' \\
  -F 'compressions=[82]' \\
  -F 'resizes=["original"]' \\
  -F "createArchive=false\""""

JOB_ID = "a755a89a-3a63-4f3e-88ff-7fef50d42d7d"

POLL_JOB = """curl "https://convertly.sh/api/jobs/a755a89a-3a63-4f3e-88ff-7fef50d42d7d" \\
  -H "Authorization: Bearer $CONVERTLY_API_KEY\""""

CANCEL_JOB = """curl -X DELETE "https://convertly.sh/api/jobs/a755a89a-3a63-4f3e-88ff-7fef50d42d7d" \\
  -H "Authorization: Bearer $CONVERTLY_API_KEY\""""

# The workflow endpoints table (method, path) of doc 000.
ENDPOINTS = [("GET", "/api/workflows"), ("POST", "/api/workflows"), ("PATCH", "/api/workflows/{id}"),
             ("DELETE", "/api/workflows/{id}"), ("POST", "/api/workflows/{id}/run"),
             ("GET", "/api/workflows/{id}/run")]
