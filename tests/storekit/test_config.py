"""The base configs: the scheme check, its message, and reprs without secrets."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import Field, ValidationError, field_validator

from beluga_workflow.storekit import ServerStoreConfig


class DemoConfig(ServerStoreConfig):
    url_schemes: ClassVar[tuple[str, ...]] = ("demo", "demos")
    url_example: ClassVar[str] = "demo://host:1"
    shown_fields: ClassVar[dict[str, str]] = {"space": "space_name"}

    url: str = Field(repr=False)
    space_name: str = "main"

    @field_validator("url")
    @classmethod
    def _demo_url(cls, value: str) -> str:
        return cls.split_url(value).encoded()


def test_a_url_of_another_scheme_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        DemoConfig(url="http://user:secret@host:1")

    message = str(caught.value)
    assert "expected a demo:// or demos:// URL, e.g. demo://host:1" in message
    assert "secret" not in message


def test_the_repr_shows_the_masked_address_and_the_shown_fields() -> None:
    config = DemoConfig(url="demos://user:secret@host:1", space_name="s")

    assert repr(config) == "DemoConfig(url='demos://user:***@host:1', space='s')"
    assert str(config) == repr(config)


def test_one_scheme_is_named_alone() -> None:
    class One(ServerStoreConfig):
        url_schemes: ClassVar[tuple[str, ...]] = ("one",)

    assert One.scheme_message() == "expected a one:// URL"
