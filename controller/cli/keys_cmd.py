"""`loa keys show`: the controller's public key, to provision receivers with.

The key pair is made on first use (here or by `loa serve`) in `<data_dir>/keys/`.
"""

from __future__ import annotations

import argparse

from controller.cli.output import emit_json, emit_text
from controller.config import load_config


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    keys = commands.add_parser("keys", help="the controller's command-signing key")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", parents=[common], help="the public key receivers are provisioned with"
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    from controller.keys import controller_key

    config = load_config(args.config)
    key = controller_key(config.data_dir)
    public = key.public
    if args.json:
        emit_json(
            {
                "algorithm": "ed25519",
                "public_key": public.text(),
                "fingerprint": public.fingerprint(),
                "public_key_file": str(key.public_path),
                "private_key_file": str(key.private_path),
                "created": key.created,
            }
        )
        return 0
    lines = [
        f"public key   {public.text()}",
        f"fingerprint  {public.fingerprint()}",
        f"file         {key.public_path}",
        "Provision every receiver with this public key: it accepts only commands signed by",
        f"the private key in {key.private_path} (keep that file secret and backed up).",
    ]
    if key.created:
        lines.insert(0, "made a new key pair (there was none)")
    emit_text("\n".join(lines))
    return 0
