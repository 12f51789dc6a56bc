"""emergency: resources, personnel, shifts, shelters, supplies, alerts, hazards, search, activity

Revision ID: 0022_emergency
Revises: 0001_foundation

PostgreSQL and SQLite differ below the generated tables: full-text search (tsvector + pg_trgm,
or FTS5), the shifts' exclusion constraint (PostgreSQL; SQLite serialises writers), and the
ledger's append-only triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_emergency"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("emergency",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emergency_activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_activity")),
    )
    with op.batch_alter_table("emergency_activity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_emergency_activity_subject", ["subject_kind", "subject_id", "at"], unique=False
        )

    op.create_table(
        "emergency_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.Column("msg_type", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("thread_id", sa.String(length=36), nullable=False),
        sa.Column("references", sa.Text(), nullable=True),
        sa.Column("event", sa.String(length=120), nullable=False),
        sa.Column("headline", sa.String(length=160), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("certainty", sa.String(length=10), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_alerts")),
        sa.UniqueConstraint("identifier", name=op.f("uq_emergency_alerts_identifier")),
    )
    with op.batch_alter_table("emergency_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_alerts_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_emergency_alerts_thread_id"), ["thread_id"], unique=False
        )

    op.create_table(
        "emergency_hazard_feeds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_hazard_feeds")),
        sa.UniqueConstraint("name", name=op.f("uq_emergency_hazard_feeds_name")),
    )
    op.create_table(
        "emergency_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("min_stock", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_items")),
        sa.UniqueConstraint("sku", name=op.f("uq_emergency_items_sku")),
    )
    op.create_table(
        "emergency_locations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("shelter_id", sa.String(length=36), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_emergency_locations_name")),
        sa.UniqueConstraint("shelter_id", name=op.f("uq_emergency_locations_shelter_id")),
    )
    op.create_table(
        "emergency_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=False),
        sa.Column("from_location_id", sa.String(length=36), nullable=True),
        sa.Column("to_location_id", sa.String(length=36), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_emergency_movements_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_movements")),
    )
    with op.batch_alter_table("emergency_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_movements_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_emergency_movements_item_id"), ["item_id"], unique=False
        )

    op.create_table(
        "emergency_mutual_aid",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requesting_agency", sa.String(length=120), nullable=False),
        sa.Column("providing_agency", sa.String(length=120), nullable=False),
        sa.Column("resource_kind", sa.String(length=30), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("resource_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_mutual_aid")),
    )
    with op.batch_alter_table("emergency_mutual_aid", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_mutual_aid_status"), ["status"], unique=False
        )

    op.create_table(
        "emergency_resources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("agency", sa.String(length=120), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("home_name", sa.String(length=120), nullable=True),
        sa.Column("home_lat", sa.Float(), nullable=False),
        sa.Column("home_lon", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("notes", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_resources")),
        sa.UniqueConstraint("name", name=op.f("uq_emergency_resources_name")),
    )
    with op.batch_alter_table("emergency_resources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_resources_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_emergency_resources_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_emergency_resources_status"), ["status"], unique=False)

    op.create_table(
        "emergency_search_docs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_search_docs")),
        sa.UniqueConstraint("kind", "ref_id", name="uq_emergency_search_ref"),
    )
    with op.batch_alter_table("emergency_search_docs", schema=None) as batch_op:
        batch_op.create_index("ix_emergency_search_kind_status", ["kind", "status"], unique=False)

    op.create_table(
        "emergency_shelters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("capacity_beds", sa.Integer(), nullable=False),
        sa.Column("capacity_accessible", sa.Integer(), nullable=False),
        sa.Column("capacity_pets", sa.Integer(), nullable=False),
        sa.Column("occupied_beds", sa.Integer(), nullable=False),
        sa.Column("occupied_accessible", sa.Integer(), nullable=False),
        sa.Column("occupied_pets", sa.Integer(), nullable=False),
        sa.Column("amenities", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "occupied_accessible >= 0 AND occupied_accessible <= capacity_accessible",
            name=op.f("ck_emergency_shelters_accessible_within"),
        ),
        sa.CheckConstraint(
            "occupied_beds >= 0 AND occupied_beds <= capacity_beds",
            name=op.f("ck_emergency_shelters_beds_within"),
        ),
        sa.CheckConstraint(
            "occupied_pets >= 0 AND occupied_pets <= capacity_pets",
            name=op.f("ck_emergency_shelters_pets_within"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_shelters")),
        sa.UniqueConstraint("name", name=op.f("uq_emergency_shelters_name")),
    )
    with op.batch_alter_table("emergency_shelters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergency_shelters_status"), ["status"], unique=False)

    op.create_table(
        "emergency_teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_emergency_teams_name")),
    )
    op.create_table(
        "emergency_evacuees",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("shelter_id", sa.String(length=36), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("family_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("birth_year_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("needs_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("pets", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by", sa.String(length=100), nullable=False),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_out_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["shelter_id"],
            ["emergency_shelters.id"],
            name=op.f("fk_emergency_evacuees_shelter_id_emergency_shelters"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_evacuees")),
    )
    with op.batch_alter_table("emergency_evacuees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_evacuees_shelter_id"), ["shelter_id"], unique=False
        )

    op.create_table(
        "emergency_hazard_features",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=30), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["emergency_hazard_feeds.id"],
            name=op.f("fk_emergency_hazard_features_feed_id_emergency_hazard_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_hazard_features")),
        sa.UniqueConstraint("feed_id", "external_id", name="uq_emergency_hazard"),
    )
    with op.batch_alter_table("emergency_hazard_features", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_hazard_features_feed_id"), ["feed_id"], unique=False
        )

    op.create_table(
        "emergency_people",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("agency", sa.String(length=120), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["emergency_teams.id"],
            name=op.f("fk_emergency_people_team_id_emergency_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_people")),
        sa.UniqueConstraint("username", name=op.f("uq_emergency_people_username")),
    )
    op.create_table(
        "emergency_shelter_occupancy",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shelter_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beds", sa.Integer(), nullable=False),
        sa.Column("accessible", sa.Integer(), nullable=False),
        sa.Column("pets", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shelter_id"],
            ["emergency_shelters.id"],
            name=op.f("fk_emergency_shelter_occupancy_shelter_id_emergency_shelters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_shelter_occupancy")),
    )
    with op.batch_alter_table("emergency_shelter_occupancy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_shelter_occupancy_shelter_id"), ["shelter_id"], unique=False
        )

    op.create_table(
        "emergency_stock",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("location_id", sa.String(length=36), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_emergency_stock_never_negative")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["emergency_items.id"],
            name=op.f("fk_emergency_stock_item_id_emergency_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["emergency_locations.id"],
            name=op.f("fk_emergency_stock_location_id_emergency_locations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_stock")),
        sa.UniqueConstraint("item_id", "location_id", "lot", name="uq_emergency_stock_place"),
    )
    with op.batch_alter_table("emergency_stock", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_stock_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "emergency_supply_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("to_location_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fulfilled_quantity", sa.Integer(), nullable=False),
        sa.Column("needed_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["emergency_items.id"],
            name=op.f("fk_emergency_supply_requests_item_id_emergency_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["emergency_locations.id"],
            name=op.f("fk_emergency_supply_requests_to_location_id_emergency_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_supply_requests")),
    )
    with op.batch_alter_table("emergency_supply_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_supply_requests_status"), ["status"], unique=False
        )

    op.create_table(
        "emergency_evacuee_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evacuee_id", sa.String(length=36), nullable=False),
        sa.Column("token", sa.LargeBinary(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["evacuee_id"],
            ["emergency_evacuees.id"],
            name=op.f("fk_emergency_evacuee_tokens_evacuee_id_emergency_evacuees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_evacuee_tokens")),
    )
    with op.batch_alter_table("emergency_evacuee_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_evacuee_tokens_evacuee_id"), ["evacuee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_evacuee_tokens_token"), ["token"], unique=False
        )

    op.create_table(
        "emergency_qualifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["emergency_people.id"],
            name=op.f("fk_emergency_qualifications_person_id_emergency_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_qualifications")),
        sa.UniqueConstraint("person_id", "kind", name="uq_emergency_qual_kind"),
    )
    with op.batch_alter_table("emergency_qualifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_qualifications_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "emergency_shifts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=True),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("position", sa.String(length=30), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_emergency_shifts_shift_positive")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["emergency_people.id"],
            name=op.f("fk_emergency_shifts_person_id_emergency_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_shifts")),
    )
    with op.batch_alter_table("emergency_shifts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_shifts_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_emergency_shifts_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index("ix_emergency_shifts_window", ["starts_at", "ends_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


# The ledger is append-only: the database refuses UPDATE and DELETE of a movement.
_LEDGER_GUARD = "emergency_movements are append-only"


def _postgresql_upgrade() -> None:
    # Search: a generated tsvector (title weighted above body), and a vocabulary for typos.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "ALTER TABLE emergency_search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('simple', lower(title)), 'A') || "
        "setweight(to_tsvector('simple', lower(body)), 'B')) STORED"
    )
    op.execute("CREATE INDEX ix_emergency_search_tsv ON emergency_search_docs USING gin (tsv)")
    # The index's vocabulary, for typo candidates by trigram similarity (as SQLite's fts5vocab):
    # each new lexeme goes in with the document that brings it, in the same transaction. Words
    # whose last document is gone stay; they can only propose a correction that matches nothing.
    op.execute("CREATE TABLE emergency_search_terms (term text PRIMARY KEY)")
    op.execute(
        "CREATE INDEX ix_emergency_search_terms_trgm ON emergency_search_terms "
        "USING gin (term gin_trgm_ops)"
    )
    op.execute(
        "CREATE FUNCTION emergency_search_terms_add() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO emergency_search_terms (term) SELECT lexeme FROM unnest(NEW.tsv) "
        "ON CONFLICT DO NOTHING; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER emergency_search_terms_add AFTER INSERT OR UPDATE OF title, body "
        "ON emergency_search_docs FOR EACH ROW EXECUTE FUNCTION emergency_search_terms_add()"
    )
    # Shifts: no two of one person overlap, whatever the concurrency ([) half-open ranges).
    op.execute(
        "ALTER TABLE emergency_shifts ADD CONSTRAINT ex_emergency_shifts_no_overlap "
        "EXCLUDE USING gist (person_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)"
    )
    op.execute(
        "CREATE FUNCTION emergency_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{_LEDGER_GUARD}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER emergency_movements_append_only BEFORE UPDATE OR DELETE "
        "ON emergency_movements FOR EACH ROW EXECUTE FUNCTION emergency_movements_append_only()"
    )


def _sqlite_upgrade() -> None:
    # Search: an external-content FTS5 table over emergency_search_docs, kept in step by
    # triggers inside the writer's transaction; a vocabulary view for typo candidates.
    op.execute(
        "CREATE VIRTUAL TABLE emergency_search_fts USING fts5("
        "title, body, content='emergency_search_docs', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE emergency_search_vocab USING fts5vocab(emergency_search_fts, row)"
    )
    op.execute(
        "CREATE TRIGGER emergency_search_ai AFTER INSERT ON emergency_search_docs BEGIN "
        "INSERT INTO emergency_search_fts(rowid, title, body) "
        "VALUES (new.id, new.title, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER emergency_search_ad AFTER DELETE ON emergency_search_docs BEGIN "
        "INSERT INTO emergency_search_fts(emergency_search_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); END"
    )
    op.execute(
        "CREATE TRIGGER emergency_search_au AFTER UPDATE ON emergency_search_docs BEGIN "
        "INSERT INTO emergency_search_fts(emergency_search_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); "
        "INSERT INTO emergency_search_fts(rowid, title, body) "
        "VALUES (new.id, new.title, new.body); END"
    )
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER emergency_movements_no_{event.lower()} BEFORE {event} "
            f"ON emergency_movements BEGIN SELECT RAISE(ABORT, '{_LEDGER_GUARD}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS emergency_movements_append_only ON emergency_movements")
        op.execute("DROP FUNCTION IF EXISTS emergency_movements_append_only()")
        op.execute("DROP TRIGGER IF EXISTS emergency_search_terms_add ON emergency_search_docs")
        op.execute("DROP FUNCTION IF EXISTS emergency_search_terms_add()")
        op.execute("DROP TABLE IF EXISTS emergency_search_terms")
    else:
        op.execute("DROP TABLE IF EXISTS emergency_search_vocab")
        op.execute("DROP TABLE IF EXISTS emergency_search_fts")
    with op.batch_alter_table("emergency_shifts", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_shifts_window")
        batch_op.drop_index(batch_op.f("ix_emergency_shifts_unit_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_shifts_person_id"))

    op.drop_table("emergency_shifts")
    with op.batch_alter_table("emergency_qualifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_qualifications_person_id"))

    op.drop_table("emergency_qualifications")
    with op.batch_alter_table("emergency_evacuee_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_evacuee_tokens_token"))
        batch_op.drop_index(batch_op.f("ix_emergency_evacuee_tokens_evacuee_id"))

    op.drop_table("emergency_evacuee_tokens")
    with op.batch_alter_table("emergency_supply_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_supply_requests_status"))

    op.drop_table("emergency_supply_requests")
    with op.batch_alter_table("emergency_stock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_stock_location_id"))

    op.drop_table("emergency_stock")
    with op.batch_alter_table("emergency_shelter_occupancy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_shelter_occupancy_shelter_id"))

    op.drop_table("emergency_shelter_occupancy")
    op.drop_table("emergency_people")
    with op.batch_alter_table("emergency_hazard_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_hazard_features_feed_id"))

    op.drop_table("emergency_hazard_features")
    with op.batch_alter_table("emergency_evacuees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_evacuees_shelter_id"))

    op.drop_table("emergency_evacuees")
    op.drop_table("emergency_teams")
    with op.batch_alter_table("emergency_shelters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_shelters_status"))

    op.drop_table("emergency_shelters")
    with op.batch_alter_table("emergency_search_docs", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_search_kind_status")

    op.drop_table("emergency_search_docs")
    with op.batch_alter_table("emergency_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_resources_status"))
        batch_op.drop_index(batch_op.f("ix_emergency_resources_kind"))
        batch_op.drop_index(batch_op.f("ix_emergency_resources_incident_id"))

    op.drop_table("emergency_resources")
    with op.batch_alter_table("emergency_mutual_aid", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_mutual_aid_status"))

    op.drop_table("emergency_mutual_aid")
    with op.batch_alter_table("emergency_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_movements_item_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_movements_at"))

    op.drop_table("emergency_movements")
    op.drop_table("emergency_locations")
    op.drop_table("emergency_items")
    op.drop_table("emergency_hazard_feeds")
    with op.batch_alter_table("emergency_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_alerts_thread_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_alerts_state"))

    op.drop_table("emergency_alerts")
    with op.batch_alter_table("emergency_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_activity_subject")

    op.drop_table("emergency_activity")
