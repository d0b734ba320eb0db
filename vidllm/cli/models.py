"""``vidllm models``: the model backends, whether each runs here, and what the others lack."""

from __future__ import annotations

import json

import click


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--options", "show_options", is_flag=True, help="Also list each backend's -o options.")
def models(as_json: bool, show_options: bool) -> None:
    """List the model backends, which run here, and why the others do not."""
    # imported here, not at the top: `vidllm --help` stays light
    from vidllm.models.registry import FORMS, available_backends

    rows = available_backends()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        state = "ready" if row["available"] else "not available"
        click.echo(f"{row['scheme']:<9} {state:<14} {row['description']}")
        if not row["available"]:
            hint = f" ({row['install']})" if row.get("install") else ""
            click.echo(f"{'':24}missing: {', '.join(row['missing'])}{hint}")
        for note in row.get("notes", []):
            click.echo(f"{'':24}note: {note}")
        if show_options:
            for name, spec in row["options"].items():
                click.echo(f"{'':24}-o {name} {spec['default']!r}: {spec['description']}")
    click.echo(f"\nmodel URIs: {FORMS}")
