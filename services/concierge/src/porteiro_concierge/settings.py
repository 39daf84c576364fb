"""Settings of the concierge service (environment prefix ``PORTEIRO_CONCIERGE_``)."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from porteiro_common.call_register import CALL_FINISHED_QUEUE, LOCAL_AMQP_URL
from porteiro_common.settings import ServiceSettings
from porteiro_common.tenants import CondominiumLabels


class ConciergeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEIRO_CONCIERGE_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50052
    metrics_port: int = 9102

    directory_target: str = Field("127.0.0.1:50053", description="host:port of the directory service")
    dialer_target: str = Field("127.0.0.1:50054", description="host:port of the dialer service")
    dependency_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="Deadline of each call to directory and dialer"
    )
    holding_after_seconds: float = Field(
        1.0,
        ge=0,
        le=30,
        description="A visitor's sentence still waiting on the directory (extraction, Resolve) this long: "
        "the holding sentence (prompt `holding`) is said once and the wait goes on; 0 = never",
    )
    prompts_file: Path | None = Field(
        None,
        validation_alias=AliasChoices(
            "PORTEIRO_CONCIERGE_PROMPTS_FILE", "PORTEIRO_PROMPTS_FILE", "prompts_file"
        ),
        description="YAML file of sentences; unset = the pt-BR defaults shipped with porteiro-common",
    )
    answers_file: Path | None = Field(
        None,
        description="YAML file of the answers closed questions admit (intent, confirmation, decision); "
        "unset = the pt-BR defaults shipped with porteiro-common (answers.pt-BR.yaml)",
    )
    confirm_below_score: float = Field(
        90.0,
        ge=0,
        le=100,
        description="A directory match scoring below this is confirmed with the visitor before the call",
    )
    confirm_name_only: bool = Field(
        True,
        description="Confirm with the visitor a directory match found by the resident's name alone (no "
        "apartment said or typed) before the call: with every resident's name in the recognition hints, "
        "a garbled answer can come out as another resident's exact name (one more turn per such call; "
        "false calls such matches at once)",
    )
    tenants_dir: Path | None = Field(
        None,
        description="Folder of condominiums (porteiro_common.tenants; the directory's TENANTS_DIR): each "
        "call gets its condominium's name, sentences and voice; unset = one condominium from PROMPTS_FILE",
    )
    reload_interval_seconds: float = Field(
        2.0, ge=0, le=3600, description="How often TENANTS_DIR is checked for changes (0 = never reload)"
    )
    metrics_condominiums: str = Field(
        "",
        description="The `condominium` label of the call counters: '' = off (\"-\"), 'a,b' = those ids "
        "(others \"other\"), '*' = each id up to METRICS_CONDOMINIUMS_LIMIT",
    )
    metrics_condominiums_limit: int = Field(
        50, ge=1, le=1000, description="With '*': condominiums labelled by id; later ones are \"other\""
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PORTEIRO_CONCIERGE_REDIS_URL", "REDIS_URL", "redis_url"),
        description="Redis for shared sessions; unset = sessions in this process's memory",
    )
    session_ttl_seconds: int = Field(900, ge=10, description="Lifetime of a session without activity")
    redis_timeout_seconds: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Longest wait for Redis on each session operation; past it (or on a refused "
        "connection) the call ends with the technical-problem sentence instead of silence",
    )
    resident_connect_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Time for the resident leg to connect after each call attempt: covers a normal ring "
        "(a late answer to an earlier attempt is still taken)",
    )
    max_call_attempts: int = Field(2, ge=1, le=5, description="Call attempts before giving up")
    resident_reply_timeout_seconds: float = Field(
        8.0, gt=0, description="Silence allowed to the resident after a question (re-prompted once)"
    )
    visitor_reply_timeout_seconds: float = Field(
        15.0, gt=0, description="Silence allowed to the visitor after a question (re-asked once)"
    )
    playback_allowance_seconds: float = Field(
        20.0, gt=0, description="Upper bound for a question to play before silence timers start anyway"
    )
    max_validation_failures: int = Field(
        2, ge=1, description="Directory misses before the keypad is offered for the apartment"
    )
    max_directory_errors: int = Field(2, ge=1, description="Directory outages tolerated per call")
    not_understood_before_fallback: int = Field(
        2,
        ge=1,
        description="Consecutive visitor turns that add nothing before the question changes: the keypad for "
        "the apartment (apartment/resident missing) or going on without the visitor's name",
    )
    ask_visitor_name: Literal["always", "visits", "never"] = Field(
        "visits",
        description='Whom "Qual é o seu nome, por favor?" is asked: "always", "visits" (a courier is not asked: '
        'the resident decides on the delivery and hears `unknown_courier`, "Um entregador") or "never". A name '
        "said unasked is kept either way",
    )
    visitor_name_min_confidence: float = Field(
        0.45,
        ge=0,
        le=1,
        description='A name answer to "Qual é o seu nome?" recognised with less confidence than this is left '
        'out (the resident hears "Um visitante", not a garbled name); 0 = every name is kept',
    )
    visitor_name_tries: int = Field(
        1,
        ge=1,
        le=5,
        description='Answers to "Qual é o seu nome?" without a name in them before the call goes on without '
        'the visitor\'s name (the resident hears "Um visitante")',
    )
    intent_yes_no_after: int = Field(
        1,
        ge=0,
        le=5,
        description='Answers with no intent understood before the intent is asked as a yes or no ("É uma '
        'entrega?", the way the last answer leaned, delivery otherwise; "não" means the other one); 0 never',
    )
    intent_in_confirmation: bool = Field(
        True,
        description="An intent the first answer did not make clear is guessed (the way it leaned, a delivery "
        'otherwise) and asked with whom to call, in one confirmation ("É uma entrega para Renata Oliveira, do '
        '501?"), instead of a yes-or-no question of its own first; "Não, é uma visita." corrects it, a first '
        'bare "não" is taken as about the resident, anything else asks the intent alone',
    )
    confirm_options_up_to: int = Field(
        2,
        ge=1,
        le=5,
        description="Residents the directory found alike, up to this many, are confirmed one at a time "
        '("Luiza Mendes, do 201?", a "não" asks the next); more are read out ("Encontrei mais de um morador: '
        '... Qual deles?")',
    )
    whom_question: Literal["apartment_and_resident", "resident"] = Field(
        "resident",
        description='The first question of whom to call: "apartment_and_resident" ("Para qual apartamento e '
        'qual o nome do morador?") or "resident" ("Qual é o nome do morador?", a short answer read against '
        "the directory's names, the match confirmed with its apartment)",
    )
    whom_tries: int = Field(
        1,
        ge=1,
        le=5,
        description='Answers to "Para qual apartamento e qual o nome do morador?" that add nothing before the '
        "resident's name alone is asked (a short answer, read against the directory's names)",
    )
    not_understood_before_end: int = Field(
        4, ge=2, description="Consecutive visitor turns that add nothing before the call ends (failed)"
    )
    max_visitor_turns: int = Field(
        12,
        ge=3,
        description="Visitor sentences and typed apartments while collecting before the call ends (failed)",
    )
    deadline_reread_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        validation_alias=AliasChoices(
            "PORTEIRO_CONCIERGE_DEADLINE_REREAD_SECONDS",
            "PORTEIRO_CONCIERGE_TIMER_POLL_SECONDS",  # its former name
            "deadline_reread_seconds",
        ),
        description="How often a leg re-reads the session's deadline from the store, to fire deadlines set "
        "by another process (fail-over); its own deadlines fire on a local timer",
    )
    llm_model: str | None = Field(None, description="litellm model string; set = CrewAI extractor")
    llm_api_key: str | None = Field(None, description="API key for the LLM")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible LLM endpoint")
    llm_timeout_seconds: float = Field(6.0, gt=0, description="Per-sentence budget of the CrewAI extractor")
    register_enabled: bool = Field(
        False, description="Publish a CallFinished event per finished call for the visitor register"
    )
    register_amqp_url: SecretStr = Field(
        SecretStr(LOCAL_AMQP_URL), description="RabbitMQ URL for the register's events (from a Secret)"
    )
    register_queue: str = Field(
        CALL_FINISHED_QUEUE, min_length=1, description="Durable queue the register consumes"
    )
    register_buffer_size: int = Field(
        1000, ge=1, description="Events held in memory while RabbitMQ is away (more are dropped, counted)"
    )

    @field_validator("metrics_condominiums")
    @classmethod
    def _valid_condominium_labels(cls, value: str) -> str:
        CondominiumLabels(value)  # raises naming the ids that are not condominium ids
        return value

    @model_validator(mode="after")
    def _fallback_before_end(self) -> "ConciergeSettings":
        if self.not_understood_before_end <= self.not_understood_before_fallback:
            raise ValueError("not_understood_before_end must be greater than not_understood_before_fallback")
        return self
