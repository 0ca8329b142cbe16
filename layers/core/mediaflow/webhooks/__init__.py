"""Signed, retried webhook delivery (Standard Webhooks) with an SSRF guard."""
