"""Settings section of the patient registry."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class RegistrySettings(BaseModel):
    """The person registry (master patient index): identifier rules and matching thresholds."""

    national_id_scheme: str = Field(
        default="luhn",
        pattern=r"^(none|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?)$",
        description="check-digit rule of national health ids: a python-stdnum module "
        "(`luhn`, `verhoeff`, `damm`, `fi.hetu`, `nl.bsn`, `no.fodselsnummer`...) or `none`",
    )
    phone_region: str = Field(
        default="FI",
        pattern=r"^[A-Z]{2}$",
        description="region of phone numbers written without a country code (ISO 3166 alpha-2)",
    )
    auto_link_weight: float = Field(
        default=10.0,
        description="match weight (log2 Bayes factor) at or above which a person is linked "
        "without asking",
    )
    review_weight: float = Field(
        default=0.0,
        description="match weight at or above which (and below auto-link) a person reviews",
    )
    identifier_overrides_dob: bool = Field(
        default=True,
        description="auto-link a pair whose dates of birth differ only when an identifier "
        "(national id) agrees exactly and the weight reaches auto-link; false: such pairs "
        "always go to review",
    )
    blind_index_key_id: int | None = Field(
        default=None,
        ge=1,
        lt=2**16,
        description="master key id the blind index (HMAC of identifiers, phones, name keys) is "
        "derived from; default the lowest id. Changing it needs `emsync registry reindex`",
    )
    max_candidates: int = Field(
        default=200, ge=10, le=5000, description="candidates a search or match considers"
    )

    @model_validator(mode="after")
    def _review_below_auto_link(self) -> RegistrySettings:
        if self.review_weight >= self.auto_link_weight:
            raise ValueError("registry.review_weight must be below registry.auto_link_weight")
        return self
