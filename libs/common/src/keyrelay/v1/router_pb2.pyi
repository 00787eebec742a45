import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyrelay.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyticsGroupBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANALYTICS_GROUP_BY_UNSPECIFIED: _ClassVar[AnalyticsGroupBy]
    ANALYTICS_GROUP_BY_MODEL: _ClassVar[AnalyticsGroupBy]
    ANALYTICS_GROUP_BY_PROVIDER: _ClassVar[AnalyticsGroupBy]
    ANALYTICS_GROUP_BY_DAY: _ClassVar[AnalyticsGroupBy]

class OnBudgetExceeded(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ON_BUDGET_EXCEEDED_UNSPECIFIED: _ClassVar[OnBudgetExceeded]
    ON_BUDGET_EXCEEDED_REJECT: _ClassVar[OnBudgetExceeded]
    ON_BUDGET_EXCEEDED_DOWNGRADE: _ClassVar[OnBudgetExceeded]
ANALYTICS_GROUP_BY_UNSPECIFIED: AnalyticsGroupBy
ANALYTICS_GROUP_BY_MODEL: AnalyticsGroupBy
ANALYTICS_GROUP_BY_PROVIDER: AnalyticsGroupBy
ANALYTICS_GROUP_BY_DAY: AnalyticsGroupBy
ON_BUDGET_EXCEEDED_UNSPECIFIED: OnBudgetExceeded
ON_BUDGET_EXCEEDED_REJECT: OnBudgetExceeded
ON_BUDGET_EXCEEDED_DOWNGRADE: OnBudgetExceeded

class ImageUrl(_message.Message):
    __slots__ = ("url", "detail")
    URL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    url: str
    detail: str
    def __init__(self, url: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ContentPart(_message.Message):
    __slots__ = ("text", "image_url")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    text: str
    image_url: ImageUrl
    def __init__(self, text: _Optional[str] = ..., image_url: _Optional[_Union[ImageUrl, _Mapping]] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("role", "content", "parts", "name")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    parts: _containers.RepeatedCompositeFieldContainer[ContentPart]
    name: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[ContentPart, _Mapping]]] = ..., name: _Optional[str] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("tenant_id", "access_key_id", "access_key_rate_limit", "messages", "model", "task_type", "max_tokens", "temperature", "top_p", "stop", "allow_failover")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    ALLOW_FAILOVER_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    access_key_id: str
    access_key_rate_limit: int
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    model: str
    task_type: _common_pb2.TaskType
    max_tokens: int
    temperature: float
    top_p: float
    stop: _containers.RepeatedScalarFieldContainer[str]
    allow_failover: bool
    def __init__(self, tenant_id: _Optional[str] = ..., access_key_id: _Optional[str] = ..., access_key_rate_limit: _Optional[int] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., model: _Optional[str] = ..., task_type: _Optional[_Union[_common_pb2.TaskType, str]] = ..., max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., stop: _Optional[_Iterable[str]] = ..., allow_failover: _Optional[bool] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("id", "content", "finish_reason", "usage", "cost_usd", "cost_micros", "route", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    content: str
    finish_reason: str
    usage: _common_pb2.Usage
    cost_usd: float
    cost_micros: int
    route: _common_pb2.Route
    created: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., content: _Optional[str] = ..., finish_reason: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., route: _Optional[_Union[_common_pb2.Route, _Mapping]] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CompleteStreamFinal(_message.Message):
    __slots__ = ("finish_reason", "usage", "cost_usd", "cost_micros", "route")
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    finish_reason: str
    usage: _common_pb2.Usage
    cost_usd: float
    cost_micros: int
    route: _common_pb2.Route
    def __init__(self, finish_reason: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., route: _Optional[_Union[_common_pb2.Route, _Mapping]] = ...) -> None: ...

class CompleteStreamChunk(_message.Message):
    __slots__ = ("id", "model", "delta", "final")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    delta: str
    final: CompleteStreamFinal
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., delta: _Optional[str] = ..., final: _Optional[_Union[CompleteStreamFinal, _Mapping]] = ...) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("tenant_id", "access_key_id", "access_key_rate_limit", "inputs", "model", "dimensions")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    access_key_id: str
    access_key_rate_limit: int
    inputs: _containers.RepeatedScalarFieldContainer[str]
    model: str
    dimensions: int
    def __init__(self, tenant_id: _Optional[str] = ..., access_key_id: _Optional[str] = ..., access_key_rate_limit: _Optional[int] = ..., inputs: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., dimensions: _Optional[int] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("index", "values")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    index: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, index: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("embeddings", "model", "usage", "cost_usd", "cost_micros", "route")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    model: str
    usage: _common_pb2.Usage
    cost_usd: float
    cost_micros: int
    route: _common_pb2.Route
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., route: _Optional[_Union[_common_pb2.Route, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "provider", "provider_model_id", "name", "context_window", "input_price_per_mtok", "output_price_per_mtok", "tasks", "budget_tier", "regions", "modalities", "embedding_dimensions")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    INPUT_PRICE_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PRICE_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_TIER_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    provider_model_id: str
    name: str
    context_window: int
    input_price_per_mtok: float
    output_price_per_mtok: float
    tasks: _containers.RepeatedScalarFieldContainer[_common_pb2.TaskType]
    budget_tier: _common_pb2.BudgetTier
    regions: _containers.RepeatedScalarFieldContainer[str]
    modalities: _containers.RepeatedScalarFieldContainer[str]
    embedding_dimensions: int
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., provider_model_id: _Optional[str] = ..., name: _Optional[str] = ..., context_window: _Optional[int] = ..., input_price_per_mtok: _Optional[float] = ..., output_price_per_mtok: _Optional[float] = ..., tasks: _Optional[_Iterable[_Union[_common_pb2.TaskType, str]]] = ..., budget_tier: _Optional[_Union[_common_pb2.BudgetTier, str]] = ..., regions: _Optional[_Iterable[str]] = ..., modalities: _Optional[_Iterable[str]] = ..., embedding_dimensions: _Optional[int] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("task", "tier", "provider")
    TASK_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    task: _common_pb2.TaskType
    tier: _common_pb2.BudgetTier
    provider: str
    def __init__(self, task: _Optional[_Union[_common_pb2.TaskType, str]] = ..., tier: _Optional[_Union[_common_pb2.BudgetTier, str]] = ..., provider: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class BenchmarkRequest(_message.Message):
    __slots__ = ("tenant_id", "access_key_id", "access_key_rate_limit", "prompt", "models", "max_tokens", "task_type")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    access_key_id: str
    access_key_rate_limit: int
    prompt: str
    models: _containers.RepeatedScalarFieldContainer[str]
    max_tokens: int
    task_type: _common_pb2.TaskType
    def __init__(self, tenant_id: _Optional[str] = ..., access_key_id: _Optional[str] = ..., access_key_rate_limit: _Optional[int] = ..., prompt: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., max_tokens: _Optional[int] = ..., task_type: _Optional[_Union[_common_pb2.TaskType, str]] = ...) -> None: ...

class BenchmarkResult(_message.Message):
    __slots__ = ("model", "latency_ms", "usage", "cost_usd", "cost_micros", "output", "error", "key_source")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    model: str
    latency_ms: float
    usage: _common_pb2.Usage
    cost_usd: float
    cost_micros: int
    output: str
    error: str
    key_source: _common_pb2.KeySource
    def __init__(self, model: _Optional[str] = ..., latency_ms: _Optional[float] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., output: _Optional[str] = ..., error: _Optional[str] = ..., key_source: _Optional[_Union[_common_pb2.KeySource, str]] = ...) -> None: ...

class BenchmarkResponse(_message.Message):
    __slots__ = ("results", "recommended_model", "recommendation")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_MODEL_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BenchmarkResult]
    recommended_model: str
    recommendation: str
    def __init__(self, results: _Optional[_Iterable[_Union[BenchmarkResult, _Mapping]]] = ..., recommended_model: _Optional[str] = ..., recommendation: _Optional[str] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("id", "tenant_id", "access_key_id", "request_id", "created_at", "task_type", "provider", "model", "key_source", "usage", "cost_usd", "cost_micros", "latency_ms", "stream", "success", "error_type")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    access_key_id: str
    request_id: str
    created_at: _timestamp_pb2.Timestamp
    task_type: _common_pb2.TaskType
    provider: str
    model: str
    key_source: _common_pb2.KeySource
    usage: _common_pb2.Usage
    cost_usd: float
    cost_micros: int
    latency_ms: float
    stream: bool
    success: bool
    error_type: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., access_key_id: _Optional[str] = ..., request_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_type: _Optional[_Union[_common_pb2.TaskType, str]] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., key_source: _Optional[_Union[_common_pb2.KeySource, str]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., latency_ms: _Optional[float] = ..., stream: _Optional[bool] = ..., success: _Optional[bool] = ..., error_type: _Optional[str] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "page")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page: _common_pb2.PageRequest
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("records", "page")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[UsageRecord]
    page: _common_pb2.PageResponse
    def __init__(self, records: _Optional[_Iterable[_Union[UsageRecord, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class AnalyticsBucket(_message.Message):
    __slots__ = ("key", "requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "cost_micros", "avg_latency_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    key: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    cost_micros: int
    avg_latency_ms: float
    def __init__(self, key: _Optional[str] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., cost_micros: _Optional[int] = ..., avg_latency_ms: _Optional[float] = ...) -> None: ...

class CostRecommendation(_message.Message):
    __slots__ = ("message", "current_model", "suggested_model", "estimated_monthly_savings_usd")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_MODEL_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_MONTHLY_SAVINGS_USD_FIELD_NUMBER: _ClassVar[int]
    message: str
    current_model: str
    suggested_model: str
    estimated_monthly_savings_usd: float
    def __init__(self, message: _Optional[str] = ..., current_model: _Optional[str] = ..., suggested_model: _Optional[str] = ..., estimated_monthly_savings_usd: _Optional[float] = ...) -> None: ...

class GetAnalyticsRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "group_by")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    group_by: AnalyticsGroupBy
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Union[AnalyticsGroupBy, str]] = ...) -> None: ...

class GetAnalyticsResponse(_message.Message):
    __slots__ = ("buckets", "totals", "recommendations")
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[AnalyticsBucket]
    totals: AnalyticsBucket
    recommendations: _containers.RepeatedCompositeFieldContainer[CostRecommendation]
    def __init__(self, buckets: _Optional[_Iterable[_Union[AnalyticsBucket, _Mapping]]] = ..., totals: _Optional[_Union[AnalyticsBucket, _Mapping]] = ..., recommendations: _Optional[_Iterable[_Union[CostRecommendation, _Mapping]]] = ...) -> None: ...

class TenantSettings(_message.Message):
    __slots__ = ("tenant_id", "budget_tier", "preferred_providers", "fallback_providers", "max_monthly_cost_usd", "on_budget_exceeded", "allow_platform_fallback", "region", "updated_at", "tokens_per_minute")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGET_TIER_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    MAX_MONTHLY_COST_USD_FIELD_NUMBER: _ClassVar[int]
    ON_BUDGET_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PLATFORM_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    budget_tier: _common_pb2.BudgetTier
    preferred_providers: _containers.RepeatedScalarFieldContainer[str]
    fallback_providers: _containers.RepeatedScalarFieldContainer[str]
    max_monthly_cost_usd: float
    on_budget_exceeded: OnBudgetExceeded
    allow_platform_fallback: bool
    region: str
    updated_at: _timestamp_pb2.Timestamp
    tokens_per_minute: int
    def __init__(self, tenant_id: _Optional[str] = ..., budget_tier: _Optional[_Union[_common_pb2.BudgetTier, str]] = ..., preferred_providers: _Optional[_Iterable[str]] = ..., fallback_providers: _Optional[_Iterable[str]] = ..., max_monthly_cost_usd: _Optional[float] = ..., on_budget_exceeded: _Optional[_Union[OnBudgetExceeded, str]] = ..., allow_platform_fallback: _Optional[bool] = ..., region: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class GetTenantSettingsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetTenantSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: TenantSettings
    def __init__(self, settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...

class PutTenantSettingsRequest(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: TenantSettings
    def __init__(self, settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...

class PutTenantSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: TenantSettings
    def __init__(self, settings: _Optional[_Union[TenantSettings, _Mapping]] = ...) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("period_start", "period_end", "has_limit", "limit_usd", "limit_micros", "spent_usd", "spent_micros", "reserved_usd", "reserved_micros")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    HAS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_USD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    SPENT_USD_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_USD_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    has_limit: bool
    limit_usd: float
    limit_micros: int
    spent_usd: float
    spent_micros: int
    reserved_usd: float
    reserved_micros: int
    def __init__(self, period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., has_limit: _Optional[bool] = ..., limit_usd: _Optional[float] = ..., limit_micros: _Optional[int] = ..., spent_usd: _Optional[float] = ..., spent_micros: _Optional[int] = ..., reserved_usd: _Optional[float] = ..., reserved_micros: _Optional[int] = ...) -> None: ...

class CheckKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "service_id", "value", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    service_id: str
    value: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., value: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CheckKeyResponse(_message.Message):
    __slots__ = ("check",)
    CHECK_FIELD_NUMBER: _ClassVar[int]
    check: _common_pb2.LiveCheck
    def __init__(self, check: _Optional[_Union[_common_pb2.LiveCheck, _Mapping]] = ...) -> None: ...
