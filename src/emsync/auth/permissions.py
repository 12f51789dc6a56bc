"""The permission matrix: which role may do what. The one place to read or change access."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    PARAMEDIC = "paramedic"
    # An ambulance crew member on the crew view: acts only for the unit signed on to.
    CREW = "crew"
    CLINICIAN = "clinician"
    HOSPITAL_COORDINATOR = "hospital_coordinator"
    EMERGENCY_MANAGER = "emergency_manager"
    AUDITOR = "auditor"
    # Machine principals (API keys only): devices publish, integrations read and write.
    DEVICE = "device"
    INTEGRATION = "integration"


HUMAN_ROLES = frozenset(r for r in Role if r not in {Role.DEVICE, Role.INTEGRATION})


class Perm(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    TRIAGE_RUN = "triage:run"
    UNITS_READ = "units:read"
    UNITS_WRITE = "units:write"
    DISPATCH_ASSIGN = "dispatch:assign"
    MAP_READ = "map:read"
    MAP_WRITE = "map:write"
    # Replace the loaded road map from a file on the server (admins only: it reads server files,
    # confined to EMSYNC_MAP_IMPORT_DIR, and changes every route and ETA).
    MAP_IMPORT = "map:import"
    HOSPITALS_READ = "hospitals:read"
    HOSPITALS_WRITE = "hospitals:write"
    DEVICES_READ = "devices:read"
    DEVICES_WRITE = "devices:write"
    VITALS_READ = "vitals:read"
    VITALS_WRITE = "vitals:write"
    ALERTS_READ = "alerts:read"
    ALERTS_WRITE = "alerts:write"
    HANDOFFS_READ = "handoffs:read"
    HANDOFFS_WRITE = "handoffs:write"
    HANDOFFS_RECEIVE = "handoffs:receive"
    INTAKE_READ = "intake:read"
    INTAKE_WRITE = "intake:write"
    INTAKE_OVERRIDE = "intake:override"
    EMERGENCY_READ = "emergency:read"
    EMERGENCY_WRITE = "emergency:write"
    # Evacuees' personal data (names, households, needs): shelter staff and reunification.
    EVACUEES_READ = "evacuees:read"
    REALTIME_CONNECT = "realtime:connect"
    # Change one's own password (every human role).
    ACCOUNT_PASSWORD = "account:password"  # noqa: S105 - a permission name
    # Notifications: your own contact points, preferences and pages; the on-call picture and
    # notification log; editing teams, schedules and escalation policies.
    NOTIFY_SELF = "notify:self"
    ONCALL_READ = "oncall:read"
    ONCALL_MANAGE = "oncall:manage"
    # The person registry: find and read a person's chart (every view audited); register and
    # record; merge, unmerge and decide match reviews.
    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    PERSONS_MERGE = "persons:merge"
    # The crew view: sign on to a unit, read its incident and route, move its status.
    CREW_UNIT = "crew:unit"


P = Perm
_OPERATIONAL_READ = {
    P.INCIDENTS_READ,
    P.UNITS_READ,
    P.MAP_READ,
    P.HOSPITALS_READ,
    P.REALTIME_CONNECT,
}

_PAGED = {P.NOTIFY_SELF, P.ONCALL_READ}  # everyone who can be paged

MATRIX: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.DISPATCHER: frozenset(
        _OPERATIONAL_READ
        | _PAGED
        | {
            P.INCIDENTS_WRITE,
            P.TRIAGE_RUN,
            P.UNITS_WRITE,
            P.DISPATCH_ASSIGN,
            P.DEVICES_READ,
            P.VITALS_READ,
            P.ALERTS_READ,
            P.ALERTS_WRITE,
            P.HANDOFFS_READ,
            P.HANDOFFS_WRITE,
            P.EMERGENCY_READ,
            P.PERSONS_READ,
            P.PERSONS_WRITE,
        }
    ),
    Role.PARAMEDIC: frozenset(
        _OPERATIONAL_READ
        | _PAGED
        | {
            P.INCIDENTS_WRITE,
            P.TRIAGE_RUN,
            P.UNITS_WRITE,
            P.DEVICES_READ,
            P.DEVICES_WRITE,
            P.VITALS_READ,
            P.ALERTS_READ,
            P.ALERTS_WRITE,
            P.HANDOFFS_READ,
            P.HANDOFFS_WRITE,
            P.PERSONS_READ,
            P.PERSONS_WRITE,
        }
    ),
    # No incidents:read or units:write: a crew reads and moves only its own unit and call,
    # through /api/crew; handoffs:write for the ATMIST handoff it writes and sends.
    Role.CREW: frozenset(
        _PAGED
        | {
            P.CREW_UNIT,
            P.REALTIME_CONNECT,  # also who one is (/api/auth/me)
            P.MAP_READ,
            P.HOSPITALS_READ,
            P.HANDOFFS_READ,
            P.HANDOFFS_WRITE,
        }
    ),
    Role.CLINICIAN: frozenset(
        _OPERATIONAL_READ
        | _PAGED
        | {
            P.TRIAGE_RUN,
            P.DEVICES_READ,
            P.DEVICES_WRITE,
            P.VITALS_READ,
            P.ALERTS_READ,
            P.ALERTS_WRITE,
            P.HANDOFFS_READ,
            P.HANDOFFS_RECEIVE,
            P.INTAKE_READ,
            P.INTAKE_WRITE,
            # An authorised clinician may skip, force or re-order intake steps (with a reason).
            P.INTAKE_OVERRIDE,
            P.PERSONS_READ,
            P.PERSONS_WRITE,
            P.PERSONS_MERGE,
        }
    ),
    Role.HOSPITAL_COORDINATOR: frozenset(
        _OPERATIONAL_READ
        | _PAGED
        | {
            P.HOSPITALS_WRITE,
            P.VITALS_READ,
            P.ALERTS_READ,
            P.ALERTS_WRITE,
            P.HANDOFFS_READ,
            P.HANDOFFS_RECEIVE,
            P.INTAKE_READ,
            P.INTAKE_WRITE,
            P.INTAKE_OVERRIDE,
            P.EMERGENCY_READ,
            P.ONCALL_MANAGE,
            P.PERSONS_READ,
            P.PERSONS_WRITE,
            P.PERSONS_MERGE,
        }
    ),
    Role.EMERGENCY_MANAGER: frozenset(
        _OPERATIONAL_READ
        | _PAGED
        | {
            P.EMERGENCY_READ,
            P.EMERGENCY_WRITE,
            P.EVACUEES_READ,
            P.ALERTS_READ,
            P.MAP_WRITE,
            P.HOSPITALS_WRITE,
        }
        | {P.ONCALL_MANAGE}
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ, P.USERS_READ, P.INCIDENTS_READ, P.ONCALL_READ}),
    Role.DEVICE: frozenset({P.VITALS_WRITE}),
    Role.INTEGRATION: frozenset(
        _OPERATIONAL_READ | {P.INCIDENTS_WRITE, P.HOSPITALS_WRITE, P.PERSONS_READ, P.PERSONS_WRITE}
    ),
}


# Every person may change their own password (issue #14); machines have none.
for _role in HUMAN_ROLES:
    MATRIX[_role] = MATRIX[_role] | {P.ACCOUNT_PASSWORD}


def allows(role: Role, perm: Perm) -> bool:
    return perm in MATRIX[role]
