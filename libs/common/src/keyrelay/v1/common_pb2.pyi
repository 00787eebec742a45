from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_SOURCE_UNSPECIFIED: _ClassVar[KeySource]
    KEY_SOURCE_TENANT: _ClassVar[KeySource]
    KEY_SOURCE_PLATFORM: _ClassVar[KeySource]
    KEY_SOURCE_ENVIRONMENT: _ClassVar[KeySource]

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_CHAT: _ClassVar[TaskType]
    TASK_TYPE_REASONING: _ClassVar[TaskType]
    TASK_TYPE_CODE: _ClassVar[TaskType]
    TASK_TYPE_RAG: _ClassVar[TaskType]
    TASK_TYPE_VISION: _ClassVar[TaskType]
    TASK_TYPE_EMBEDDING: _ClassVar[TaskType]
    TASK_TYPE_SUMMARIZATION: _ClassVar[TaskType]
    TASK_TYPE_TRANSLATION: _ClassVar[TaskType]

class BudgetTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_TIER_UNSPECIFIED: _ClassVar[BudgetTier]
    BUDGET_TIER_FREE: _ClassVar[BudgetTier]
    BUDGET_TIER_LOW: _ClassVar[BudgetTier]
    BUDGET_TIER_MEDIUM: _ClassVar[BudgetTier]
    BUDGET_TIER_HIGH: _ClassVar[BudgetTier]
    BUDGET_TIER_UNLIMITED: _ClassVar[BudgetTier]

class LiveCheckResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIVE_CHECK_RESULT_UNSPECIFIED: _ClassVar[LiveCheckResult]
    LIVE_CHECK_RESULT_VALID: _ClassVar[LiveCheckResult]
    LIVE_CHECK_RESULT_INVALID: _ClassVar[LiveCheckResult]
    LIVE_CHECK_RESULT_UNVERIFIED: _ClassVar[LiveCheckResult]

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_OUTCOME_UNSPECIFIED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SUCCESS: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_RETRYABLE_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_FATAL_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SKIPPED: _ClassVar[AttemptOutcome]
KEY_SOURCE_UNSPECIFIED: KeySource
KEY_SOURCE_TENANT: KeySource
KEY_SOURCE_PLATFORM: KeySource
KEY_SOURCE_ENVIRONMENT: KeySource
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CHAT: TaskType
TASK_TYPE_REASONING: TaskType
TASK_TYPE_CODE: TaskType
TASK_TYPE_RAG: TaskType
TASK_TYPE_VISION: TaskType
TASK_TYPE_EMBEDDING: TaskType
TASK_TYPE_SUMMARIZATION: TaskType
TASK_TYPE_TRANSLATION: TaskType
BUDGET_TIER_UNSPECIFIED: BudgetTier
BUDGET_TIER_FREE: BudgetTier
BUDGET_TIER_LOW: BudgetTier
BUDGET_TIER_MEDIUM: BudgetTier
BUDGET_TIER_HIGH: BudgetTier
BUDGET_TIER_UNLIMITED: BudgetTier
LIVE_CHECK_RESULT_UNSPECIFIED: LiveCheckResult
LIVE_CHECK_RESULT_VALID: LiveCheckResult
LIVE_CHECK_RESULT_INVALID: LiveCheckResult
LIVE_CHECK_RESULT_UNVERIFIED: LiveCheckResult
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
ATTEMPT_OUTCOME_SUCCESS: AttemptOutcome
ATTEMPT_OUTCOME_RETRYABLE_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_FATAL_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_SKIPPED: AttemptOutcome

class LiveCheck(_message.Message):
    __slots__ = ("result", "upstream_status", "detail", "latency_ms")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    result: LiveCheckResult
    upstream_status: int
    detail: str
    latency_ms: float
    def __init__(self, result: _Optional[_Union[LiveCheckResult, str]] = ..., upstream_status: _Optional[int] = ..., detail: _Optional[str] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PageResponse(_message.Message):
    __slots__ = ("next_page_token",)
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    def __init__(self, next_page_token: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "total_tokens", "estimated")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., estimated: _Optional[bool] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("provider", "model", "outcome", "error", "upstream_status", "latency_ms")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    outcome: AttemptOutcome
    error: str
    upstream_status: int
    latency_ms: float
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., error: _Optional[str] = ..., upstream_status: _Optional[int] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("provider", "model", "key_source", "reason", "attempts")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    key_source: KeySource
    reason: str
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., key_source: _Optional[_Union[KeySource, str]] = ..., reason: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ...) -> None: ...
