"""The webhook SSRF guard: every private spelling is refused; public https is allowed."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediaflow.webhooks.ssrf import UnsafeWebhookUrl, check_url, is_forbidden, parse_ip_literal

pytestmark = pytest.mark.unit
PUBLIC = "93.184.215.14"


def public_resolver(host: str, port: int) -> list[str]:
    return [PUBLIC]


@pytest.mark.parametrize("url", [
    "https://2852039166/latest/meta-data", "https://0251.0376.0251.0376/", "https://0xA9FEA9FE/",
    "https://169.254.169.254/", "https://127.1/", "https://127.0.0.1/", "https://0x7f.0.0.1/", "https://0/",
    "https://10.0.0.8/", "https://172.16.3.4/", "https://192.168.0.1/", "https://100.64.0.1/",
    "https://[::1]/", "https://[::]/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:127.0.0.1]/",
    "https://[fd00:ec2::254]/", "https://[fe80::1]/", "https://[2002:7f00:1::]/", "https://224.0.0.1/",
    "http://example.com/", "ftp://example.com/", "https://user:pw@example.com/", "https:///nohost",
])
def test_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        check_url(url, resolver=public_resolver)


def test_hostnames_resolving_to_private_addresses_are_refused() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="not a public address"):
        check_url("https://hooks.example.com/x", resolver=lambda h, p: [PUBLIC, "10.0.0.5"])
    target = check_url("https://hooks.example.com:8443/x?y=1", resolver=public_resolver)
    assert (target.address, target.port, target.path, target.host) == (PUBLIC, 8443, "/x?y=1", "hooks.example.com")


def test_loopback_http_only_with_the_local_setting() -> None:
    with pytest.raises(UnsafeWebhookUrl):
        check_url("http://127.0.0.1:8000/hook")
    assert check_url("http://127.0.0.1:8000/hook", allow_loopback_http=True).address == "127.0.0.1"
    with pytest.raises(UnsafeWebhookUrl):  # the local setting never opens private ranges
        check_url("http://10.1.2.3/hook", allow_loopback_http=True)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_hex_and_octal_spellings_agree(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    octets = str(address).split(".")
    assert parse_ip_literal(str(number)) == address
    assert parse_ip_literal(hex(number)) == address
    assert parse_ip_literal(".".join(f"0{int(o):o}" for o in octets)) == address
    assert parse_ip_literal(".".join(hex(int(o)) for o in octets)) == address
    assert is_forbidden(address) == is_forbidden(ipaddress.IPv6Address(f"::ffff:{address}"))
