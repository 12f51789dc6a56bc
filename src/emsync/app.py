"""ASGI entry point for servers that import an app (`uvicorn --factory emsync.app:create_app`)."""

from emsync.bootstrap import create_app

__all__ = ["create_app"]
