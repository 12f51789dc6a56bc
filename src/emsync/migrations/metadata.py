"""Every domain's tables, for Alembic autogenerate. Add a domain's models import here."""

from emsync.auth import models as _auth_models  # noqa: F401
from emsync.core import idempotency as _idempotency  # noqa: F401
from emsync.core import outbox as _event_tables  # noqa: F401
from emsync.core.db import Base
from emsync.dispatch import models as _dispatch_models  # noqa: F401
from emsync.emergency import models as _emergency_models  # noqa: F401
from emsync.handoffs import models as _handoff_models  # noqa: F401
from emsync.hospitals import models as _hospital_models  # noqa: F401
from emsync.incidents import models as _incident_models  # noqa: F401
from emsync.intake import models as _intake_models  # noqa: F401
from emsync.intake.records import models as _intake_record_models  # noqa: F401
from emsync.notifications import models as _notification_models  # noqa: F401
from emsync.registry import models as _registry_models  # noqa: F401
from emsync.telemetry import models as _telemetry_models  # noqa: F401

target_metadata = Base.metadata
