"""The request gate (issue #14, item 5): what is checked before a request body is read.

FastAPI reads and parses a body before it solves the route's dependencies, so without this an
anonymous client could make the server buffer and parse a 100 MB body only to be told 401. The
gate runs first, as pure ASGI, and for every request that carries a body:

1. refuses a body larger than its route's limit with 413, from `Content-Length` before reading
   anything, or while reading a body that declared none (chunked);
2. authenticates the caller of a non-public route from its headers, and answers 401 without
   reading the body when that fails. The principal it found is left in the request state for
   the route's permission guard, so a request is authenticated once.

A route's limit is `body_limit(n)` on its endpoint (attachments, login forms); others get
`EMSYNC_HTTP__MAX_BODY_BYTES`. Public routes are those marked `__emsync_public__`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emsync.core.errors import DomainError
from emsync.core.settings import Settings

# Authenticates from the request's headers; raises a DomainError (Unauthorized) when it cannot.
Authenticate = Callable[[Scope], Awaitable[Any]]
Respond = Callable[[Scope, Receive, Send, int, str, str], Awaitable[None]]

_WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


def flat_routes(routes: Iterable[Any]) -> list[BaseRoute]:
    """The app's routes, descending into included routers (FastAPI keeps them nested)."""
    out: list[BaseRoute] = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        out.extend(flat_routes(nested.routes) if nested is not None else [route])
    return out


def path_head(path: str) -> str:
    """The path up to its third slash: `/api/incidents/x/y` -> `/api/incidents`."""
    second = path.find("/", 1)
    if second < 0:
        return path
    third = path.find("/", second + 1)
    return path if third < 0 else path[:third]


def body_limit(max_bytes: int | Callable[[Settings], int]) -> Callable[[Any], Any]:
    """Decorator: this route accepts request bodies of at most `max_bytes` (or what that
    function of the settings says, for limits that are settings)."""

    def mark(func: Any) -> Any:
        func.__emsync_body_limit__ = max_bytes
        return func

    return mark


@dataclass(frozen=True, slots=True)
class _Rule:
    route: BaseRoute
    limit: int | None
    public: bool


@dataclass(frozen=True, slots=True)
class _Rules:
    """The special routes a request with a body can match, by the head of their path (see
    core.framework: `/api/handoffs` of `/api/handoffs/{id}/attachments`), so that a request is
    matched against the few of its head, not all of them (18 route matches, each a regex and
    FastAPI's route context, for every POST). Routes whose methods take no body (GET) can never
    match such a request; routes whose head is not plain text are tried for every path."""

    by_head: dict[str, tuple[_Rule, ...]]
    # (head or None, rule) in route order: the order `_rule_for` keeps when both kinds apply.
    ordered: tuple[tuple[str | None, _Rule], ...]
    any_head: bool

    @classmethod
    def of(cls, rules: list[_Rule]) -> _Rules:
        ordered: list[tuple[str | None, _Rule]] = []
        for rule in rules:
            methods = getattr(rule.route, "methods", None)
            if methods is not None and not methods & _WITH_BODY:
                continue
            path = getattr(rule.route, "path", None)
            head = path_head(path) if isinstance(path, str) and path.startswith("/") else None
            ordered.append((None if head is None or "{" in head else head, rule))
        by_head: dict[str, list[_Rule]] = {}
        for head, rule in ordered:
            if head is not None:
                by_head.setdefault(head, []).append(rule)
        return cls(
            {head: tuple(rules) for head, rules in by_head.items()},
            tuple(ordered),
            any(head is None for head, _ in ordered),
        )

    def candidates(self, head: str) -> Iterable[_Rule]:
        if not self.any_head:
            return self.by_head.get(head, ())
        return (rule for rule_head, rule in self.ordered if rule_head in (None, head))


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than this route accepts ({limit} bytes)")


class RequestGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Iterable[BaseRoute]],
        default_limit: int,
        authenticate: Authenticate,
        respond: Respond,
        settings: Settings,
    ) -> None:
        self.app = app
        self._settings = settings
        self._routes = routes
        self._default = default_limit
        self._authenticate = authenticate
        self._respond = respond
        self._rules: _Rules | None = None

    def _special(self) -> _Rules:
        # Routes are fixed once the app serves; read their marks on the first request.
        if self._rules is None:
            rules = []
            for route in self._routes():
                endpoint = getattr(route, "endpoint", None)
                limit = getattr(endpoint, "__emsync_body_limit__", None)
                if callable(limit):
                    limit = int(limit(self._settings))
                public = bool(getattr(endpoint, "__emsync_public__", False))
                if limit is not None or public:
                    rules.append(_Rule(route, limit, public))
            self._rules = _Rules.of(rules)
        return self._rules

    def _rule_for(self, scope: Scope) -> _Rule | None:
        for rule in self._special().candidates(path_head(get_route_path(scope))):
            match, _ = rule.route.matches(scope)
            if match is Match.FULL:
                return rule
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        rule = self._rule_for(scope)
        limit = rule.limit if rule is not None and rule.limit is not None else self._default
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            detail = f"the request body is larger than this route accepts ({limit} bytes)"
            await self._respond(scope, receive, send, 413, "Payload too large", detail)
            return
        if rule is None or not rule.public:
            try:
                principal = await self._authenticate(scope)
            except DomainError as exc:
                await self._respond(scope, receive, send, exc.status, exc.title, exc.detail)
                return
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, _counting(receive, limit), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _counting(receive: Receive, limit: int) -> Receive:
    """`receive` that refuses (413) a body once it passes `limit` bytes, whatever it declared."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # FastAPI re-raises an HTTPException met while reading the body as it is.
                raise BodyTooLarge(limit)
        return message

    return wrapped
