"""The registry key as the own Stacks node and the independent API report it (for backups)."""

from __future__ import annotations

import asyncio

from signer_tui.checks.keys import ChainReading
from signer_tui.config import Profile
from signer_tui.credentials import SecretStore, check_header_secret
from signer_tui.model import clean_text
from signer_tui.sources.errors import SourceError
from signer_tui.sources.hiro import ChainApi
from signer_tui.sources.stacks import RegistryClient, StacksNode


async def read_chain(profile: Profile, secrets: SecretStore) -> list[ChainReading]:
    deployer = profile.registry_deployer
    clients: list[tuple[str, str, RegistryClient, str | None]] = [
        (
            "node",
            profile.stacks.rpc_url,
            StacksNode(profile.stacks.rpc_url, deployer=deployer, timeout=profile.stacks.timeout),
            None,
        )
    ]
    api = profile.chain_api
    if api.url:
        note = None
        key = None
        try:
            key = secrets.get(api.api_key)
            if key is not None:
                # Not a header value (two lines, non-ASCII): ask without it, say why.
                check_header_secret(key, "the chain API key")
        except SourceError as exc:
            key = None
            note = f"API key unavailable ({exc.title}); asked without it"
        clients.append(
            (
                "api",
                api.url,
                ChainApi(api.url, deployer=deployer, api_key=key, timeout=api.timeout),
                note,
            )
        )

    async def one(source: str, url: str, client: RegistryClient, note: str | None) -> ChainReading:
        try:
            reading = await client.aggregate_key()
        except SourceError as exc:
            detail = f": {exc.detail}" if exc.detail else ""
            return ChainReading(
                source, url, None, clean_text(f"{exc.title}{detail}", 300), exc.evidence
            )
        finally:
            await client.aclose()
        evidence = reading.evidence
        if note:
            evidence = evidence.with_decoded(f"{evidence.decoded} ({note})".strip())
        return ChainReading(source, url, reading.hex, None, evidence)

    return list(await asyncio.gather(*(one(*c) for c in clients)))


def read_chain_blocking(profile: Profile, secrets: SecretStore) -> list[ChainReading]:
    return asyncio.run(read_chain(profile, secrets))
