"""The posture checks on this very machine: the real /proc, a real sshd -T, real file modes,
the real journald configuration. Verdicts that depend on the machine are only checked for
being one of the four statuses with a reason; the planted problems must be found."""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path

from signer_tui.checks.posture import IDS, posture_findings
from signer_tui.config import Settings
from signer_tui.model import Status, utcnow
from signer_tui.sources.host_facts import HostPaths, read_host_facts
from tests.sources.test_host_ssh import sshd_command, sshd_dir, write_config  # noqa: F401


def settings(tmp_path: Path, **posture: object) -> Settings:
    return Settings.model_validate(
        {
            "signers": [
                {
                    "name": "here",
                    "network": "regtest",
                    "signer": {"api_url": "http://127.0.0.1:9", "metrics_url": None},
                    "backups": {"kind": "pg_dump", "location": str(tmp_path / "backups")},
                    "posture": posture,
                }
            ]
        }
    )


def test_every_posture_check_runs_on_this_machine_and_finds_planted_problems(
    tmp_path: Path,
    sshd_dir: Path,  # noqa: F811
) -> None:
    signer_toml = tmp_path / "signer-config.toml"
    signer_toml.write_text('[signer]\nprivate_key = "00" \n')
    signer_toml.chmod(0o644)  # planted: world-readable key file
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups").chmod(0o700)
    config = write_config(sshd_dir, "PermitRootLogin no\nPasswordAuthentication yes\n")  # planted
    s = settings(tmp_path, signer_config=str(signer_toml), sshd_config=str(config))
    paths = replace(HostPaths(), sshd=sshd_command(sshd_dir))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("0.0.0.0", 0))  # planted: an unexpected listener on every interface
        server.listen()
        port = server.getsockname()[1]
        facts = read_host_facts(s.signers[0], s, paths)
    now = utcnow()
    findings = {f.id: f for f in posture_findings(facts, s.signers[0], s, now)}
    assert set(findings) == set(IDS)
    for finding in findings.values():
        assert finding.status in Status and finding.summary
        assert finding.status is Status.OK or finding.advice or finding.status is Status.UNKNOWN

    exposed = findings["posture.exposed"]
    assert exposed.status in (Status.WARN, Status.CRIT)
    mine = [value for label, value in exposed.details if label == f"0.0.0.0:{port}/tcp"]
    assert mine and f"{os.getpid()}/" in mine[0]  # with the owning process

    assert findings["posture.ssh.password_auth"].status is Status.CRIT
    assert findings["posture.ssh.root_login"].status is Status.OK
    signer_cfg = findings["posture.secrets.signer_config"]
    assert signer_cfg.status is Status.CRIT and "0644" in signer_cfg.summary
    assert findings["posture.secrets.backups"].status is Status.OK
    logs = findings["posture.logs.retention"]
    assert logs.evidence and logs.evidence[0].request  # journald's config was really read
    assert findings["posture.clock"].status in (Status.OK, Status.WARN)  # the kernel always knows
