"""registry: persons, identifiers, blind index, links, reviews, merges, clinical entries

Revision ID: 0023_registry
Revises: 0001_foundation

The registry's own branch on the foundation: persons (identity sealed), identifiers and
blocking keys as keyed blind index entries, links to other domains' records, match reviews,
merges (nothing moves; unmerge clears a pointer) and sealed clinical entries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_registry"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = ("registry",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_persons",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merged_into", sa.String(length=36), nullable=True),
        sa.Column("unknown", sa.Boolean(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=True),
        sa.Column("identity_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"],
            ["registry_persons.id"],
            name=op.f("fk_registry_persons_merged_into_registry_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_persons")),
    )
    with op.batch_alter_table("registry_persons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_persons_merged_into"), ["merged_into"], unique=False
        )

    op.create_table(
        "registry_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_entries_person_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_entries")),
        sa.UniqueConstraint("person_id", "source_key", name="uq_registry_entry_source"),
    )
    with op.batch_alter_table("registry_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_entries_person", ["person_id", "kind", "recorded_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registry_entries_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "registry_identifiers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=20), nullable=False),
        sa.Column("assigner", sa.String(length=64), nullable=False),
        sa.Column("blind", sa.String(length=32), nullable=False),
        sa.Column("value_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_identifiers_person_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_identifiers")),
        sa.UniqueConstraint("system", "assigner", "blind", name="uq_registry_ident"),
    )
    with op.batch_alter_table("registry_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_identifiers_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "registry_keys",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("blind", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_keys_person_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "kind", "blind", name=op.f("pk_registry_keys")),
    )
    with op.batch_alter_table("registry_keys", schema=None) as batch_op:
        batch_op.create_index("ix_registry_keys_lookup", ["kind", "blind"], unique=False)

    op.create_table(
        "registry_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", sa.String(length=80), nullable=False),
        sa.Column("via_patient_id", sa.String(length=36), nullable=True),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("linked_by", sa.String(length=100), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_links_person_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_links")),
        sa.UniqueConstraint("kind", "ref_id", name="uq_registry_link_ref"),
    )
    with op.batch_alter_table("registry_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_links_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registry_links_via_patient_id"), ["via_patient_id"], unique=False
        )

    op.create_table(
        "registry_merges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("survivor_id", sa.String(length=36), nullable=False),
        sa.Column("merged_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=True),
        sa.Column("merged_by", sa.String(length=100), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmerged_by", sa.String(length=100), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerge_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_merges_merged_id_registry_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_merges_survivor_id_registry_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_merges")),
    )
    with op.batch_alter_table("registry_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_merges_merged_id"), ["merged_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registry_merges_survivor_id"), ["survivor_id"], unique=False
        )

    op.create_table(
        "registry_reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("candidate_id", sa.String(length=36), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("comparison", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_reviews_candidate_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["registry_persons.id"],
            name=op.f("fk_registry_reviews_person_id_registry_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_reviews")),
    )
    with op.batch_alter_table("registry_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_reviews_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registry_reviews_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registry_reviews_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_reviews_status"))
        batch_op.drop_index(batch_op.f("ix_registry_reviews_person_id"))
        batch_op.drop_index(batch_op.f("ix_registry_reviews_candidate_id"))

    op.drop_table("registry_reviews")
    with op.batch_alter_table("registry_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_registry_merges_merged_id"))

    op.drop_table("registry_merges")
    with op.batch_alter_table("registry_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_links_via_patient_id"))
        batch_op.drop_index(batch_op.f("ix_registry_links_person_id"))

    op.drop_table("registry_links")
    with op.batch_alter_table("registry_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_keys_lookup")

    op.drop_table("registry_keys")
    with op.batch_alter_table("registry_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_identifiers_person_id"))

    op.drop_table("registry_identifiers")
    with op.batch_alter_table("registry_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_entries_person_id"))
        batch_op.drop_index("ix_registry_entries_person")

    op.drop_table("registry_entries")
    with op.batch_alter_table("registry_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_persons_merged_into"))

    op.drop_table("registry_persons")
