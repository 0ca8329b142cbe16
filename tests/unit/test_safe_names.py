"""Stored names of users' files (``ids.safe_name``) and the download header naming them
(``api.http.content_disposition``): names in any script survive, nothing unsafe for a key, a path or a
header gets through."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediaflow.api.http import content_disposition
from mediaflow.client.core import disposition_filename
from mediaflow.ids import SAFE_NAME_BYTES, safe_name


@pytest.mark.parametrize(("given_name", "stored"), [
    ("été 1.jpg", "été-1.jpg"),
    ("写真.jpg", "写真.jpg"),
    (unicodedata.normalize("NFD", "Café.JPG"), "Café.JPG"),  # macOS hands out decomposed names
    ("фото (2).png", "фото-2.png"),
    ("my photo (1).jpg", "my-photo-1.jpg"),
    ("IMG_0001.JPG", "IMG_0001.JPG"),
    ("archive.tar.gz", "archive.tar.gz"),
    ("😀.png", "file.png"),
    ("evil\u202egnp.exe", "evil-gnp.exe"),  # a right-to-left override cannot disguise the extension
    ("../../etc/passwd", "passwd"),
    (".hidden", "hidden"),
    ("", "file"),
])
def test_names_keep_their_letters_in_any_script(given_name: str, stored: str) -> None:
    assert safe_name(given_name) == stored


def test_a_long_name_is_cut_to_whole_characters_and_keeps_its_extension() -> None:
    stored = safe_name("写" * 200 + ".jpg")
    assert stored.endswith(".jpg") and len(stored.encode()) <= SAFE_NAME_BYTES
    assert set(stored.removesuffix(".jpg")) == {"写"}


@given(st.text(max_size=300))
def test_a_stored_name_is_one_safe_component(text: str) -> None:
    stored = safe_name(text)
    assert stored and len(stored.encode()) <= SAFE_NAME_BYTES
    assert stored == unicodedata.normalize("NFC", stored)
    assert not stored.startswith((".", "-")) and "/" not in stored and "\\" not in stored
    assert all(ch in "._-" or unicodedata.category(ch)[0] in "LMN" for ch in stored)
    assert safe_name(stored) == stored


@pytest.mark.parametrize("name", ["x.webp", "IMG 1.JPG", "été-1.webp", "写真.webp", 'a"b;c.png', "naïve"])
def test_the_download_header_names_the_file_and_stays_ascii(name: str) -> None:
    header = content_disposition("attachment", name)
    header.encode("ascii")
    assert header.startswith("attachment; filename=\"")
    assert disposition_filename(header) == name
    if not name.isascii() or '"' in name:
        assert "filename*=UTF-8''" in header


def test_a_header_without_a_name_gives_none() -> None:
    assert disposition_filename("inline") is None
    assert disposition_filename('inline; filename="plain.png"') == "plain.png"
