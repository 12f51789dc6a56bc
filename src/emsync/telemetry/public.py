"""What other domains may call in telemetry, inside their own transaction.

Not re-exported from the package `__init__`: that would load the service (and SQLAlchemy) with
every pure telemetry module, which the import contracts forbid.
`recent_vitals` reads a patient's stored (validated, sealed at rest) vital-sign readings back,
oldest first.
"""

from emsync.telemetry.service import recent_vitals

__all__ = ["recent_vitals"]
