"""The records the intake agents own: the ED bed board, admissions, legal cases, clinicians'
slots and bookings, and the ledger of step effects. Each outbound effect carries the step's
idempotency key under a unique constraint (a step re-run after a crash writes nothing twice)."""
