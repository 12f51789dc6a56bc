"""Emergency management: typed resources, personnel and shifts, shelters and evacuees, supplies
and the stock ledger, public alerts (CAP 1.2), EDXL-HAVE, hazard feeds, search, CSV.

Other domains use only what is exported here: dispatch's crew port is `crew_problems`.
"""

from emsync.emergency.events import PublicAlertIssued, ShelterChanged, StockLow
from emsync.emergency.personnel_service import crew_problems

__all__ = ["PublicAlertIssued", "ShelterChanged", "StockLow", "crew_problems"]
