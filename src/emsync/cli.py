"""The `emsync` command: serve, database, users, audit.

Start-up imports only what the invoked command needs, so that `emsync --help`, `emsync users` or
`emsync simulate` do not pay seconds for xgboost, scipy and the road graph: the commands defined
here import their services inside the function, and the domains' commands (dispatch, keys, map,
triage, risk, simulate) are registered as stand-ins carrying their help text, replaced by the real
command from the domain's `cli` module when one of them is invoked (`_DeferredGroup`).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from emsync.auth.permissions import Role
from emsync.core.background import ProcessRole

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from typer._click import Command, Context

    from emsync.auth.chain import ChainReport
    from emsync.auth.passwords import Passwords
    from emsync.auth.schemas import UserCreate
    from emsync.core.settings import Settings

# Command name -> "module:attribute" of its Typer group or command function, imported on use.
_DEFERRED: dict[str, str] = {}


class _DeferredGroup(TyperGroup):
    """The root group. Listing commands (`emsync --help`, completion of a command name) shows the
    stand-ins, whose help is the real one; resolving one (to run it, show its own help or complete
    its options) imports its module and swaps the real command in."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._stand_ins = {name: self.commands[name] for name in _DEFERRED}

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and command is not None and self._stand_ins.get(name) is command:
            command = self.commands[name] = deferred_command(name)
        return name, command, rest


def deferred_command(name: str) -> Command:
    """The deferred command `name`, built as `app.add_typer`/`app.command` would have built it."""
    module_name, _, attribute = _DEFERRED[name].partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(  # the settings get_group(app) hands down to its sub-commands
        rich_markup_mode=app.rich_markup_mode,
        suggest_commands=app.suggest_commands,
        pretty_exceptions_short=app.pretty_exceptions_short,
    )
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


def _not_loaded() -> None:
    raise RuntimeError("a deferred command ran as its stand-in")  # _DeferredGroup swaps it first


def _defer(name: str, target: str, *, help_text: str, group: bool = True) -> None:
    _DEFERRED[name] = target
    if group:
        app.add_typer(typer.Typer(help=help_text), name=name)
    else:
        app.command(name, help=help_text)(_not_loaded)


app = typer.Typer(
    help="EMsync: emergency medical coordination hub.", no_args_is_help=True, cls=_DeferredGroup
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
# The stand-ins' help is their command's (tests/unit/test_cli_imports.py compares them).
_defer(
    "dispatch",
    "emsync.dispatch.cli:dispatch_app",
    help_text="Dispatch: ETA calibration from recorded trips.",
)
_defer(
    "keys",
    "emsync.telemetry.cli:keys_app",
    help_text="Master keys: create, rotate, re-wrap stored device keys.",
)
_defer(
    "map",
    "emsync.routing.cli:map_app",
    help_text="Road maps: import an .osm.pbf, show compiled maps, download a region.",
)
_defer(
    "triage",
    "emsync.triage.cli:triage_app",
    help_text="Acuity model (KTAS 1-5): train and evaluate.",
)
_defer(
    "risk",
    "emsync.triage.cli:risk_app",
    help_text="Deterioration model (PhysioNet 2012 layout).",
)
_defer(
    "artefacts",
    "emsync.telemetry.artefact_cli:artefacts_app",
    help_text="Monitor artefact detection: fit the window model, evaluate on PhysioNet series.",
)
_defer(
    "notify",
    "emsync.notifications.cli:notify_app",
    help_text="Notifications: local SMS, push, webhook and SMTP sandbox.",
)
_defer(
    "demo",
    "emsync.demo:demo_app",
    help_text="Demo data for trying EMsync out (never loaded silently).",
)
_defer(
    "registry",
    "emsync.registry.cli:registry_app",
    help_text="Person registry: fit the linkage model, evaluate matching, rebuild the blind index.",
)
_defer(
    "backup",
    "emsync.backup_cli:backup_app",
    help_text="Backups of the database; the master keyring only sealed under a passphrase.",
)
_defer(
    "events",
    "emsync.core.events_cli:events_app",
    help_text="Durable domain events: the outbox and its dead letters.",
)
_defer(
    "simulate",
    "emsync.telemetry.cli:simulate",
    help_text="Publish sealed vitals for N patients through MQTT, as their monitors would.",
    group=False,
)

console = Console(stderr=True, soft_wrap=True)


def _passwords(settings: Settings) -> Passwords:
    from emsync.auth.passwords import Passwords

    auth = settings.auth
    return Passwords(time_cost=auth.password_time_cost, memory_cost_kib=auth.password_memory_kib)


def load_settings() -> Settings:
    from pydantic import ValidationError

    from emsync.core.settings import Settings, with_development_secrets

    try:
        return with_development_secrets(Settings())
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"[red]configuration error:[/red] {err['msg']}")
        raise typer.Exit(2) from None
    except ValueError as exc:  # a secret file that cannot be read (EMSYNC_<NAME>_FILE)
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(
    revision: str = "heads",
    ensure_admin: Annotated[
        bool, typer.Option(help="then create the first admin if there is none (deployments)")
    ] = False,
) -> None:
    """Apply migrations (all domains' heads by default)."""
    from emsync.core import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at [bold]{_redacted(settings.database_url)}[/bold] is up to date")
    if ensure_admin:
        _report_admin(settings)


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ("base" empties the database)."""
    from emsync.core import migrate

    migrate.downgrade(load_settings().database_url, revision)


@db_app.command("current")
def db_current() -> None:
    """Show the applied revision(s)."""
    from emsync.core import migrate

    migrate.current(load_settings().database_url)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _create_user(settings: Settings, data: UserCreate) -> str:
    from emsync.auth import service as auth_service
    from emsync.core.clock import utcnow
    from emsync.core.db import create_engine, session_factory
    from emsync.hospitals import hospital_exists

    async def exists(session: AsyncSession, hospital_id: str) -> bool:
        return await hospital_exists(session=session, hospital_id=hospital_id)

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            user = await auth_service.create_user(
                session=session,
                passwords=_passwords(settings),
                data=data,
                now=utcnow(),
                hospital_exists=exists,
            )
            await session.commit()
            return user.id
    finally:
        await engine.dispose()


async def _set_password(settings: Settings, username: str, password: str) -> None:
    from emsync.auth import service as auth_service
    from emsync.core.clock import utcnow
    from emsync.core.db import create_engine, session_factory

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            await auth_service.set_password(
                session=session,
                passwords=_passwords(settings),
                username=username,
                password=password,
                now=utcnow(),
            )
            await session.commit()
    finally:
        await engine.dispose()


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[Role, typer.Option(help="One of the human roles")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="≥ 15 chars")
    ],
    hospital_id: Annotated[str | None, typer.Option(help="Hospital of hospital staff")] = None,
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from emsync.auth.schemas import UserCreate
    from emsync.core.errors import DomainError

    settings = load_settings()
    try:
        data = UserCreate(username=username, password=password, role=role, hospital_id=hospital_id)
        user_id = asyncio.run(_create_user(settings, data))
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"[red]{'.'.join(map(str, err['loc']))}:[/red] {err['msg']}")
        raise typer.Exit(2) from None
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    console.print(f"created {role.value} [bold]{username}[/bold] ({user_id})")


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[
        str,
        typer.Option(
            prompt="New password",
            hide_input=True,
            confirmation_prompt=True,
            help="≥ 15 chars; prompted for when not given",
        ),
    ],
) -> None:
    """Reset a user's password (a forgotten one, or after a compromise): every session of the
    account ends; servers drop cached sessions within EMSYNC_AUTH__PRINCIPAL_CACHE_SECONDS."""
    from emsync.core.errors import DomainError

    settings = load_settings()
    try:
        asyncio.run(_set_password(settings, username, password))
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1 if exc.status == 404 else 2) from None
    console.print(f"password of [bold]{username}[/bold] changed; its sessions have ended")


async def _ensure_admin(settings: Settings) -> str | None:
    from emsync.auth import service as auth_service
    from emsync.core.clock import utcnow
    from emsync.core.db import create_engine, session_factory

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            password = (
                settings.admin_password.get_secret_value() if settings.admin_password else None
            )
            generated = await auth_service.ensure_admin(
                session=session,
                passwords=_passwords(settings),
                username=settings.admin_username or "admin",
                password=password,
                now=utcnow(),
            )
            await session.commit()
            return generated
    finally:
        await engine.dispose()


@users_app.command("ensure-admin")
def users_ensure_admin() -> None:
    """Create the first admin (EMSYNC_ADMIN_USERNAME/PASSWORD, else a printed random password)."""
    _report_admin(load_settings())


def _report_admin(settings: Settings) -> None:
    from emsync.core.errors import DomainError

    try:
        generated = asyncio.run(_ensure_admin(settings))
    except DomainError as exc:  # e.g. an EMSYNC_ADMIN_PASSWORD the password policy refuses
        console.print(f"[red]cannot create the first admin:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    if generated is not None:
        name = settings.admin_username or "admin"
        console.print(
            f"[bold green]first admin created[/bold green]: username [bold]{name}[/bold], "
            f"password [bold]{generated}[/bold] (shown once; change it after logging in)"
        )


async def _verify(settings: Settings) -> ChainReport:
    from emsync.auth import audit as audit_service
    from emsync.auth import checkpoints
    from emsync.core.crypto import Keyring
    from emsync.core.db import create_engine, session_factory

    key = checkpoints.audit_key(settings, Keyring.from_settings(settings))
    seen = checkpoints.read(checkpoints.checkpoint_file(settings))
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return await audit_service.verify(session=session, key=key, checkpoints_seen=seen)
    finally:
        await engine.dispose()


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the keyed audit chain and hold it against the signed checkpoints; exit 1 if
    an entry was edited, removed or the tail truncated below the last checkpoint."""
    report = asyncio.run(_verify(load_settings()))
    if report.ok:
        console.print(
            f"[green]audit log intact[/green]: {report.entries} entries, head {report.head_hash}"
        )
        if report.unkeyed:
            console.print(f"{report.unkeyed} early entries predate the keyed chain (SHA-256 only)")
        return
    where = f" at entry {report.first_broken_seq}" if report.first_broken_seq else ""
    console.print(f"[red]audit log BROKEN[/red]{where}: {report.problem}")
    raise typer.Exit(1)


@app.command()
def health(
    live: Annotated[bool, typer.Option("--live", help="liveness (/health) only")] = False,
) -> None:
    """Ask this machine's EMsync process for /health/ready (container health checks)."""
    import ssl
    import urllib.request

    settings = load_settings()
    scheme = "https" if settings.tls_cert else "http"
    url = f"{scheme}://127.0.0.1:{settings.port}/health{'' if live else '/ready'}"
    # The certificate names the public host, not 127.0.0.1: this asks the local process only.
    context = ssl._create_unverified_context() if settings.tls_cert else None  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:  # noqa: S310
            ok = response.status == 200
    except OSError as exc:
        console.print(f"[red]not ready[/red]: {exc}")
        raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)


@app.command()
def serve(
    role: Annotated[
        list[ProcessRole] | None,
        typer.Option(help="Process role(s); all three by default"),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (EMSYNC_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (EMSYNC_PORT)")] = None,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
) -> None:
    """Run EMsync (API, ingest and worker in one process unless --role narrows it)."""
    import uvicorn

    from emsync.bootstrap import create_app
    from emsync.core import migrate
    from emsync.telemetry.broker import with_embedded_broker

    settings = with_embedded_broker(load_settings())  # no MQTT host: embedded amqtt
    if migrate_first:
        migrate.upgrade(settings.database_url)
        _report_admin(settings)
    roles = tuple(role) if role else tuple(ProcessRole)
    bind_host = host or settings.host
    bind_port = port or settings.port
    scheme = "https" if settings.tls_cert else "http"
    console.print(
        f"EMsync ({', '.join(r.value for r in roles)}) on "
        f"[bold]{scheme}://{bind_host}:{bind_port}/[/bold] — dashboard at /, API docs at /docs"
    )
    # The heap settles after start-up's allocations, the services' included, before serving.
    asgi = create_app(settings, roles=roles, settle=True)
    proxies = settings.http.trusted_proxies.strip()
    uvicorn.run(
        asgi,
        host=bind_host,
        port=bind_port,
        access_log=False,
        log_level=settings.log_level.lower(),
        # X-Forwarded-For/-Proto only from the configured proxies: uvicorn's default trusts
        # 127.0.0.1, and rotating the header from loopback escaped the per-address login limit.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        # Client WebSocket messages are small commands; 16 MiB (uvicorn's default) is not needed.
        ws_max_size=64 * 1024,
        ws_per_message_deflate=settings.http.ws_per_message_deflate,  # see core/serving.py
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
