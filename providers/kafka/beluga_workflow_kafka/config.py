"""Options of the Kafka store; SASL passwords never appear in a repr or an error."""

from __future__ import annotations

import re
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator

from beluga_workflow.redaction import redact_url
from beluga_workflow.storekit.config import ServerStoreConfig
from beluga_workflow.storekit.schemes import published_schemes

__all__ = ["KafkaConfig"]

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class KafkaConfig(ServerStoreConfig):
    """Brokers, topic and timeouts.

    ``url``: ``kafka://host:port[,host:port]/topic``; or give
    ``bootstrap_servers`` and ``topic``; any option may ride in the URL's
    query (``?sasl_plain_password=...``). The topic is created compacted with
    ``partitions`` partitions when missing. ``operation_timeout`` bounds every
    store call; then ``StoreUnavailableError``.
    """

    url_schemes: ClassVar[tuple[str, ...]] = published_schemes("kafka")

    url: str | None = Field(default=None, repr=False)
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "beluga-workflows"
    partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    client_id: str = "beluga-workflow"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    idempotent: bool = Field(
        default=True,
        description="Use the idempotent producer; falls back (logged) if the broker refuses it.",
    )
    chunk_size: int = Field(default=512 * 1024, ge=1024, description="Largest record value.")
    connect_timeout: float = Field(default=5.0, gt=0)
    operation_timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _from_url(self) -> Self:
        if self.url is not None:
            scheme, sep, rest = self.url.partition("://")
            if scheme.lower() not in self.url_schemes or not sep:
                raise ValueError("expected kafka://host:port[,host:port]/topic")
            servers, _, topic = rest.partition("/")
            topic = topic.partition("?")[0]
            if "@" in servers:
                raise ValueError(
                    "put SASL credentials in sasl_plain_username/sasl_plain_password, "
                    "not in the URL"
                )
            if not servers:
                raise ValueError("kafka:// URL needs host:port, e.g. kafka://127.0.0.1:9092/topic")
            self.bootstrap_servers = servers
            if topic:
                self.topic = topic
        if not _TOPIC.match(self.topic):
            raise ValueError("topic may hold only letters, digits, '.', '_' and '-'")
        return self

    @property
    def address(self) -> str:
        """Where the brokers are, for messages (no credentials)."""
        return redact_url(f"kafka://{self.bootstrap_servers}/{self.topic}")
