"""``tasuki argo export|check|replay|submit`` and ``tasuki image``.

Registered on the main app by :func:`register` (called at the end of ``cli/_app.py``).
No ``from __future__ import annotations`` here: typer reads the commands' annotations, and
those name the shared option types of ``cli/_app.py`` imported inside :func:`register`.
"""

from pathlib import Path
from typing import Annotated

import typer

from tasuki._redact import redact

__all__ = ["register"]

argo_app = typer.Typer(
    help="Argo Workflows: export a build's remaining tasks, check, replay locally, submit.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}; expected KEY=VALUE", param_hint=what)
        out[key] = value
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror}", param_hint="FILE") from None


def register(app: typer.Typer) -> None:
    """Add ``argo`` and ``image`` to the ``tasuki`` command (imported late: no cycle)."""
    from tasuki.cli._app import TASK_CONTEXT, ConfigFile, Workspace, _errors_exit_2, _settings
    from tasuki.cli._app import open_workspace as open_ws

    @argo_app.command(name="export", context_settings=TASK_CONTEXT)
    @_errors_exit_2
    def export_cmd(
        ctx: typer.Context,
        task: Annotated[str, typer.Argument(help="module.path:TaskClass, then --param value ...")],
        image: Annotated[str, typer.Option(help="Image of every component, REGISTRY/NAME:TAG.")],
        output: Annotated[str, typer.Option("--output", "-o", help="YAML file to write.")],
        component_image: Annotated[
            list[str] | None,
            typer.Option(help="PACKAGE=IMAGE: the image of one component (repeatable)."),
        ] = None,
        kind: Annotated[
            str, typer.Option(help="Workflow, WorkflowTemplate or CronWorkflow.")
        ] = "Workflow",
        schedule: Annotated[str | None, typer.Option(help="Cron schedule (CronWorkflow).")] = None,
        name: Annotated[str, typer.Option(help="Workflow name (prefix).")] = "tasuki",
        namespace: Annotated[str | None, typer.Option(help="metadata.namespace.")] = None,
        pack: Annotated[
            int, typer.Option(help="Tasks of a chain per pod; 1: only cheap tasks are packed.")
        ] = 1,
        retries: Annotated[int, typer.Option(help="Retries of a retryable failure.")] = 2,
        env: Annotated[
            list[str] | None, typer.Option(help="KEY=VALUE for every step (repeatable).")
        ] = None,
        secret: Annotated[
            list[str] | None,
            typer.Option(help="Kubernetes secret whose keys become the steps' environment."),
        ] = None,
        service_account: Annotated[str | None, typer.Option(help="Pods' service account.")] = None,
        max_manifest_bytes: Annotated[
            int, typer.Option(help="Split into a workflow of workflows above this.")
        ] = 500_000,
        workspace: Workspace = None,
        config: ConfigFile = None,
    ) -> None:
        """Compile the tasks a build still needs into an Argo workflow (YAML)."""
        from tasuki.argo import ExportOptions, export_workflow
        from tasuki.cli._params import make_task, parse_param_args
        from tasuki.core.task import import_task

        if kind not in ("Workflow", "WorkflowTemplate", "CronWorkflow"):
            raise typer.BadParameter(
                f"{kind!r}; choose Workflow, WorkflowTemplate or CronWorkflow",
                param_hint="--kind",
            )
        options = ExportOptions(
            image=image,
            images=_pairs(component_image, "--component-image"),
            name=name,
            kind=kind,  # type: ignore[arg-type]
            schedule=schedule,
            namespace=namespace,
            pack=pack,
            retries=retries,
            env=_pairs(env, "--env"),
            secrets=tuple(secret or ()),
            service_account=service_account,
            max_manifest_bytes=max_manifest_bytes,
        )
        options.check()
        settings = _settings(config, workspace=workspace)
        task_cls = import_task(task)
        store = open_ws(settings)
        value = make_task(task_cls, parse_param_args(task_cls, ctx.args), settings, store=store)
        export = export_workflow(value, options=options, settings=settings, store=store)
        if not export.steps:
            # Argo refuses a DAG without tasks; an empty workflow would only fail on submit.
            typer.echo(
                f"nothing to run: all {export.tasks} task(s) are cached; {output} not written",
                err=True,
            )
            return
        text = export.to_yaml()
        Path(output).write_text(text, encoding="utf-8")
        sizes = ", ".join(f"{s / 1000:.1f} KB" for s in export.sizes())
        typer.echo(
            f"{export.tasks} task(s), {export.cached} cached or not needed, "
            f"{sum(len(s.uids) for s in export.steps)} to run in {len(export.steps)} step(s); "
            f"{len(export.documents)} document(s) ({sizes}) written to {output}",
            err=True,
        )

    @argo_app.command(name="check")
    @_errors_exit_2
    def check_cmd(
        file: Annotated[str, typer.Argument(help="An exported YAML file.")],
        hera: Annotated[
            bool, typer.Option("--hera/--no-hera", help="Also parse with hera's models.")
        ] = True,
    ) -> None:
        """Check an exported workflow's structure (templates, dependencies, cycles, names)."""
        from tasuki.argo import check_documents, load_documents, validate_with_hera

        docs = load_documents(_read(file))
        check_documents(docs)
        if hera:
            validate_with_hera(docs)
        typer.echo(f"{file}: {len(docs)} document(s), no problems found")

    @argo_app.command(name="replay")
    @_errors_exit_2
    def replay_cmd(
        file: Annotated[str, typer.Argument(help="An exported YAML file.")],
    ) -> None:
        """Run an exported workflow's steps here, as subprocesses, in dependency order."""
        from tasuki.argo import ReplayStep, load_documents, replay

        def seen(step: ReplayStep) -> None:
            typer.echo(f"{step.document}/{step.task}: {redact(' '.join(step.argv))}", err=True)

        result = replay(load_documents(_read(file)), on_step=seen)
        typer.echo(f"replayed {result.launched} step(s)")

    @argo_app.command(name="submit")
    @_errors_exit_2
    def submit_cmd(
        file: Annotated[str, typer.Argument(help="An exported YAML file.")],
        server: Annotated[
            str | None, typer.Option(help="Argo server URL; default: ARGO_SERVER.")
        ] = None,
        namespace: Annotated[
            str | None, typer.Option(help="Namespace; default: ARGO_NAMESPACE, else argo.")
        ] = None,
        config: ConfigFile = None,
    ) -> None:
        """Create the exported workflow on an Argo server (server, namespace and token from
        the flags, then [argo] in tasuki.toml or TASUKI_ARGO__*, then ARGO_SERVER,
        ARGO_NAMESPACE, ARGO_TOKEN; the token is never a flag)."""
        from tasuki.argo import ArgoSettings, check_documents, load_documents, submit

        docs = load_documents(_read(file))
        check_documents(docs)
        configured = _settings(config).argo
        names = submit(
            docs, ArgoSettings.resolve(configured=configured, server=server, namespace=namespace)
        )
        for doc, created in zip(docs, names, strict=True):
            typer.echo(f"{doc.get('kind')} {created}")

    @app.command(name="image")
    @_errors_exit_2
    def image_cmd(
        project: Annotated[str, typer.Option(help="The project's root folder.")] = ".",
        python: Annotated[str, typer.Option(help="Python version of the base image.")] = "3.11",
        force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    ) -> None:
        """Write a Dockerfile and .dockerignore: the project and its lock in a slim image."""
        from tasuki.argo import write_image_files

        files = write_image_files(project, python=python, force=force)
        typer.echo(
            f"wrote {files.dockerfile} and {files.dockerignore} (installs from {files.lock})"
        )

    app.add_typer(argo_app, name="argo")
