"""`email` trigger: each media attachment of an inbound email (POST /api/v1/workflows/{id}/email-trigger, the
parsed-mail shape of SendGrid, SES and Mailgun) starts one run of the workflow."""

import fnmatch

from mediaflow.nodes.base import Field, NodeConfig


class Config(NodeConfig):
    allowed_senders: list[str] = Field(default_factory=list, max_length=100,
                                       description="Sender patterns (`*@example.com`); empty = anyone")
    media_types: list[str] = Field(default_factory=lambda: ["image", "video", "audio", "document"],
                                   description="Attachment media types that start a run")
    max_attachments: int = Field(default=20, ge=1, le=100, description="Attachments beyond this are refused")

    def accepts_sender(self, sender: str) -> bool:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip().lower()
        return not self.allowed_senders or any(fnmatch.fnmatchcase(address, p.lower()) for p in self.allowed_senders)
