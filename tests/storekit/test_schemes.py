"""URL schemes are declared once: configs, plugin records and install hints agree."""

from __future__ import annotations

import importlib

import pytest

from beluga_workflow.plugins.registry import install_hint
from beluga_workflow.storekit import PUBLISHED_SCHEMES, StoreConfig

PLUGINS = {name: f"beluga_workflow_{name}.plugin" for name in PUBLISHED_SCHEMES}


@pytest.mark.parametrize("name", sorted(PUBLISHED_SCHEMES))
def test_the_plugin_record_and_the_config_accept_the_published_schemes(name: str) -> None:
    module = importlib.import_module(PLUGINS[name])
    (record,) = module.beluga_workflow_store_providers()
    config = record.config_model

    assert issubclass(config, StoreConfig)
    assert record.url_schemes == config.url_schemes == PUBLISHED_SCHEMES[name]


@pytest.mark.parametrize(
    ("name", "scheme"),
    [(name, scheme) for name, schemes in PUBLISHED_SCHEMES.items() for scheme in schemes],
)
def test_every_published_scheme_has_an_install_hint(name: str, scheme: str) -> None:
    assert install_hint(scheme) == f'pip install "beluga-workflow[{name}]"'


def test_nats_tls_urls_are_accepted_and_hinted() -> None:
    from beluga_workflow_nats import NatsConfig

    assert NatsConfig(url="tls://127.0.0.1:4222").address == "tls://127.0.0.1:4222"
    assert install_hint("tls") == 'pip install "beluga-workflow[nats]"'
