"""Settings of the directory service (environment prefix ``PORTEIRO_DIRECTORY_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from porteiro_common.settings import ServiceSettings

# The prototype's sample condominium (fictional), shipped inside the package.
SAMPLE_DATA_FILE = Path(__file__).resolve().parent / "data" / "apartamentos.json"


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_DIRECTORY_", extra="ignore")

    grpc_port: int = Field(50053, ge=0, le=65535, description="gRPC port (0 = any free port)")
    metrics_port: int = Field(9103, ge=0, le=65535, description="Prometheus /metrics port")
    data_file: Path = Field(
        SAMPLE_DATA_FILE, description="Condominium data, JSON or YAML (default: the sample condominium)"
    )
    tenants_dir: Path | None = Field(
        None,
        description=(
            "Folder of per-condominium subfolders or files (many condominiums; DATA_FILE is then unused). "
            "Unset = one condominium, the `default` tenant, from DATA_FILE"
        ),
    )
    reload_interval_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often the data file's (or tenants folder's) mtimes are checked (0 = never reload)",
    )
    apartment_threshold: float = Field(
        85.0, ge=0, le=100, description="Minimum fuzz.ratio for a near apartment number"
    )
    resident_threshold: float = Field(75.0, ge=0, le=100, description="Minimum resident name score")
    ambiguity_margin: float = Field(
        5.0, ge=0, le=100, description="Candidates in different apartments closer than this are AMBIGUOUS"
    )
    max_candidates: int = Field(
        5, ge=1, le=100, description="Most candidates returned by Resolve/SearchByName"
    )
    max_text_length: int = Field(
        200, ge=1, le=100_000, description="Longest accepted text field (characters)"
    )
