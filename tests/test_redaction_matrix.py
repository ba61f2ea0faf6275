"""No password of any server store's URL ever shows: errors, reprs, library logs, the CLI.

Every URL form of every server store, with passwords holding each character
that breaks naive URL parsing, against an address where nothing listens. Each
password is ``Pw<n>x<char>yQ<n>``: finding either half anywhere means the
whole password, its percent-encoded form or a piece cut off by a mis-parse
leaked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from beluga_workflow import open_store
from beluga_workflow.cli.app import cli

CHARACTERS = ["/", "#", "?", "@", "%", ":", "'", '"', " "]
FAST = "connect_timeout=0.05&operation_timeout=0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = _free_port()
"""Bound once and released: nothing listens there, so every connection is refused at once."""


def _dsn_quoted(password: str) -> str:
    return "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"


FORMS: dict[str, tuple[str, Callable[[str], str]]] = {
    "postgresql://": ("postgres", lambda pw: f"postgresql://app:{pw}@127.0.0.1:{PORT}/db?{FAST}"),
    "postgres://": ("postgres", lambda pw: f"postgres://app:{pw}@127.0.0.1:{PORT}/db?{FAST}"),
    "key=value DSN": (
        "postgres",
        lambda pw: f"host=127.0.0.1 port={PORT} user=app password={_dsn_quoted(pw)} dbname=db",
    ),
    "redis://user:pw@": ("redis", lambda pw: f"redis://app:{pw}@127.0.0.1:{PORT}/0?{FAST}"),
    "redis://:pw@": ("redis", lambda pw: f"redis://:{pw}@127.0.0.1:{PORT}/0?{FAST}"),
    "rediss://": ("redis", lambda pw: f"rediss://app:{pw}@127.0.0.1:{PORT}/0?{FAST}"),
    "nats://user:pw@": ("nats", lambda pw: f"nats://app:{pw}@127.0.0.1:{PORT}?{FAST}"),
    "nats://token@": ("nats", lambda pw: f"nats://{pw}@127.0.0.1:{PORT}?{FAST}"),
    "tls://": ("nats", lambda pw: f"tls://app:{pw}@127.0.0.1:{PORT}?{FAST}"),
    "kafka:// SASL": (
        "kafka",
        lambda pw: (
            f"kafka://127.0.0.1:{PORT}/t?security_protocol=SASL_PLAINTEXT&sasl_mechanism=PLAIN"
            f"&sasl_plain_username=app&sasl_plain_password={pw}&{FAST}"
        ),
    ),
}
DSN_OPTIONS = {"connect_timeout": 0.05, "operation_timeout": 0.1}


@dataclass(frozen=True)
class Case:
    form: str
    provider: str
    password: str
    url: str

    @property
    def pieces(self) -> tuple[str, str]:
        head, _, tail = self.password.partition("x")
        return head + "x", tail[1:]

    @property
    def options(self) -> dict[str, float]:
        return DSN_OPTIONS if self.form == "key=value DSN" else {}

    def leaks(self, text: str) -> list[str]:
        squeezed = "".join(text.split())
        return [piece for piece in self.pieces if piece in text or piece in squeezed]


def _installed(provider: str) -> bool:
    return importlib.util.find_spec(f"beluga_workflow_{provider}") is not None


def _cases(characters: list[str]) -> list[Case]:
    cases = []
    for n, (form, (provider, make)) in enumerate(FORMS.items()):
        for m, char in enumerate(characters):
            password = f"Pw{n:02d}{m}x{char}yQ{n:02d}{m}"
            cases.append(Case(form, provider, password, make(password)))
    return [case for case in cases if _installed(case.provider)]


CASES = _cases(CHARACTERS)
ALL_AT_ONCE = _cases(["".join(CHARACTERS)])


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger at DEBUG, the client libraries' included."""
    caplog.set_level(logging.DEBUG)
    for name in ("psycopg", "psycopg.pool", "redis", "nats", "aiokafka"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(f"{record.name}: {record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            lines.extend(traceback.format_exception(record.exc_info[1]))
    return "\n".join(lines)


async def _everything_said_about(case: Case) -> str:
    """Errors (with their chained causes), reprs and strs of store and config."""
    said: list[str] = []
    if case.form == "key=value DSN":
        try:
            open_store(case.url)  # not a URL: taken for a provider name
        except Exception as exc:
            said.append("".join(traceback.format_exception(exc)))
    try:
        store = open_store({"provider": case.provider, "url": case.url, **case.options})
    except Exception as exc:
        return "".join(traceback.format_exception(exc))
    config = getattr(store, "config", None)
    said += [repr(store), str(store), repr(config), str(config)]
    try:
        await store.load("w")
        said.append("(no error)")
    except Exception as exc:
        said.append("".join(traceback.format_exception(exc)))
    finally:
        await store.close()
    return "\n".join(said)


async def test_no_password_shows_in_errors_reprs_or_library_logs(
    all_logs: pytest.LogCaptureFixture,
) -> None:
    said = await asyncio.gather(*(_everything_said_about(case) for case in CASES))
    logged = _logged(all_logs)
    leaked = {
        f"{case.form} {case.password!r}": text
        for case, text in zip(CASES, said, strict=True)
        if case.leaks(text) or case.leaks(logged)
    }
    assert not leaked, leaked
    assert any(record.name.startswith("psycopg") for record in all_logs.records), (
        "the library logs were not captured"
    )
    assert all("(no error)" not in text for text in said)


ORDER = str(Path(__file__).resolve().parents[1] / "examples" / "order_approval.py")
COMMANDS = [
    ["run", f"{ORDER}:order_workflow", "--input", '{"order_id": "A-1", "amount": 1}'],
    ["run", f"{ORDER}:order_workflow", "--json"],
    ["worker", ORDER],
    ["list"],
    ["list", "--json"],
    ["show", "w"],
    ["show", "w", "--json"],
    ["signal", "w", "go"],
    ["cancel", "w"],
    ["delete", "w"],
]


def _cli_store(case: Case, tmp_path: Path) -> list[str]:
    if not case.options:
        return ["--store", case.url]
    config = tmp_path / "store.toml"
    options = "".join(f"{key} = {value}\n" for key, value in case.options.items())
    url = case.url.replace("\\", "\\\\").replace('"', '\\"')
    config.write_text(f'[store]\nprovider = "postgres"\nurl = "{url}"\n{options}')
    return ["--config", str(config)]


def _run_cli(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "400"})
    assert result.exit_code in (3, 4), (args, result.output)
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.form}-{case.password}")
def test_no_password_shows_in_cli_json_errors(
    case: Case, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    output = _run_cli(["list", "--json", *_cli_store(case, tmp_path)])
    assert not case.leaks(output), output
    assert not case.leaks(_logged(all_logs))


@pytest.mark.parametrize("case", ALL_AT_ONCE, ids=lambda case: case.form)
def test_no_password_shows_in_any_cli_command(
    case: Case, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    for command in COMMANDS:
        output = _run_cli([*command, *_cli_store(case, tmp_path)])
        assert not case.leaks(output), (command, output)
    assert not case.leaks(_logged(all_logs))
