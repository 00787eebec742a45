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

class KeyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_STATUS_UNSPECIFIED: _ClassVar[KeyStatus]
    KEY_STATUS_ACTIVE: _ClassVar[KeyStatus]
    KEY_STATUS_ROTATING: _ClassVar[KeyStatus]
    KEY_STATUS_REVOKED: _ClassVar[KeyStatus]
    KEY_STATUS_EXPIRED: _ClassVar[KeyStatus]

class SecurityLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SECURITY_LEVEL_UNSPECIFIED: _ClassVar[SecurityLevel]
    SECURITY_LEVEL_STANDARD: _ClassVar[SecurityLevel]
    SECURITY_LEVEL_HIGH: _ClassVar[SecurityLevel]
    SECURITY_LEVEL_CRITICAL: _ClassVar[SecurityLevel]

class AccessKeyRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_KEY_ROLE_UNSPECIFIED: _ClassVar[AccessKeyRole]
    ACCESS_KEY_ROLE_READ_ONLY: _ClassVar[AccessKeyRole]
    ACCESS_KEY_ROLE_FULL_ACCESS: _ClassVar[AccessKeyRole]
    ACCESS_KEY_ROLE_ADMIN: _ClassVar[AccessKeyRole]
KEY_STATUS_UNSPECIFIED: KeyStatus
KEY_STATUS_ACTIVE: KeyStatus
KEY_STATUS_ROTATING: KeyStatus
KEY_STATUS_REVOKED: KeyStatus
KEY_STATUS_EXPIRED: KeyStatus
SECURITY_LEVEL_UNSPECIFIED: SecurityLevel
SECURITY_LEVEL_STANDARD: SecurityLevel
SECURITY_LEVEL_HIGH: SecurityLevel
SECURITY_LEVEL_CRITICAL: SecurityLevel
ACCESS_KEY_ROLE_UNSPECIFIED: AccessKeyRole
ACCESS_KEY_ROLE_READ_ONLY: AccessKeyRole
ACCESS_KEY_ROLE_FULL_ACCESS: AccessKeyRole
ACCESS_KEY_ROLE_ADMIN: AccessKeyRole

class KeyRef(_message.Message):
    __slots__ = ("key_id", "service_id", "key_type")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    service_id: str
    key_type: str
    def __init__(self, key_id: _Optional[str] = ..., service_id: _Optional[str] = ..., key_type: _Optional[str] = ...) -> None: ...

class ComplianceCheck(_message.Message):
    __slots__ = ("name", "passed", "message", "tag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    message: str
    tag: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., message: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class ValidationResult(_message.Message):
    __slots__ = ("is_valid", "strength_score", "pattern_matched", "pattern", "length", "entropy_bits_per_char", "issues", "recommendations", "compliance_checks", "live_check", "validated_at")
    IS_VALID_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_SCORE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_MATCHED_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENTROPY_BITS_PER_CHAR_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_CHECKS_FIELD_NUMBER: _ClassVar[int]
    LIVE_CHECK_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_AT_FIELD_NUMBER: _ClassVar[int]
    is_valid: bool
    strength_score: int
    pattern_matched: bool
    pattern: str
    length: int
    entropy_bits_per_char: float
    issues: _containers.RepeatedScalarFieldContainer[str]
    recommendations: _containers.RepeatedScalarFieldContainer[str]
    compliance_checks: _containers.RepeatedCompositeFieldContainer[ComplianceCheck]
    live_check: _common_pb2.LiveCheck
    validated_at: _timestamp_pb2.Timestamp
    def __init__(self, is_valid: _Optional[bool] = ..., strength_score: _Optional[int] = ..., pattern_matched: _Optional[bool] = ..., pattern: _Optional[str] = ..., length: _Optional[int] = ..., entropy_bits_per_char: _Optional[float] = ..., issues: _Optional[_Iterable[str]] = ..., recommendations: _Optional[_Iterable[str]] = ..., compliance_checks: _Optional[_Iterable[_Union[ComplianceCheck, _Mapping]]] = ..., live_check: _Optional[_Union[_common_pb2.LiveCheck, _Mapping]] = ..., validated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeyMetadata(_message.Message):
    __slots__ = ("key_id", "tenant_id", "service_id", "service_name", "key_type", "name", "masked_value", "masked_fields", "fingerprint", "status", "created_at", "updated_at", "expires_at", "last_used_at", "usage_count", "permissions", "rate_limit", "security_level", "validation", "compliance_tags", "version", "vault_path")
    class MaskedFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MASKED_VALUE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    USAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VAULT_PATH_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    tenant_id: str
    service_id: str
    service_name: str
    key_type: str
    name: str
    masked_value: str
    masked_fields: _containers.ScalarMap[str, str]
    fingerprint: str
    status: KeyStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    usage_count: int
    permissions: _containers.RepeatedScalarFieldContainer[str]
    rate_limit: int
    security_level: SecurityLevel
    validation: ValidationResult
    compliance_tags: _containers.RepeatedScalarFieldContainer[str]
    version: int
    vault_path: str
    def __init__(self, key_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., service_name: _Optional[str] = ..., key_type: _Optional[str] = ..., name: _Optional[str] = ..., masked_value: _Optional[str] = ..., masked_fields: _Optional[_Mapping[str, str]] = ..., fingerprint: _Optional[str] = ..., status: _Optional[_Union[KeyStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage_count: _Optional[int] = ..., permissions: _Optional[_Iterable[str]] = ..., rate_limit: _Optional[int] = ..., security_level: _Optional[_Union[SecurityLevel, str]] = ..., validation: _Optional[_Union[ValidationResult, _Mapping]] = ..., compliance_tags: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., vault_path: _Optional[str] = ...) -> None: ...

class PutKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "service_id", "key_type", "value", "name", "permissions", "rate_limit", "expires_in_days", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_DAYS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    service_id: str
    key_type: str
    value: str
    name: str
    permissions: _containers.RepeatedScalarFieldContainer[str]
    rate_limit: int
    expires_in_days: int
    fields: _containers.ScalarMap[str, str]
    def __init__(self, tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., key_type: _Optional[str] = ..., value: _Optional[str] = ..., name: _Optional[str] = ..., permissions: _Optional[_Iterable[str]] = ..., rate_limit: _Optional[int] = ..., expires_in_days: _Optional[int] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PutKeyResponse(_message.Message):
    __slots__ = ("key", "created")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    key: KeyMetadata
    created: bool
    def __init__(self, key: _Optional[_Union[KeyMetadata, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetKeyMetadataRequest(_message.Message):
    __slots__ = ("tenant_id", "key")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key: KeyRef
    def __init__(self, tenant_id: _Optional[str] = ..., key: _Optional[_Union[KeyRef, _Mapping]] = ...) -> None: ...

class GetKeyMetadataResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: KeyMetadata
    def __init__(self, key: _Optional[_Union[KeyMetadata, _Mapping]] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("tenant_id", "service_id", "include_revoked", "page")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    service_id: str
    include_revoked: bool
    page: _common_pb2.PageRequest
    def __init__(self, tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys", "page")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyMetadata]
    page: _common_pb2.PageResponse
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyMetadata, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class DeleteKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key", "reason")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key: KeyRef
    reason: str
    def __init__(self, tenant_id: _Optional[str] = ..., key: _Optional[_Union[KeyRef, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: KeyMetadata
    def __init__(self, key: _Optional[_Union[KeyMetadata, _Mapping]] = ...) -> None: ...

class RotateKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key", "new_value", "new_fields", "grace_period_seconds")
    class NewFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_FIELDS_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key: KeyRef
    new_value: str
    new_fields: _containers.ScalarMap[str, str]
    grace_period_seconds: int
    def __init__(self, tenant_id: _Optional[str] = ..., key: _Optional[_Union[KeyRef, _Mapping]] = ..., new_value: _Optional[str] = ..., new_fields: _Optional[_Mapping[str, str]] = ..., grace_period_seconds: _Optional[int] = ...) -> None: ...

class RotateKeyResponse(_message.Message):
    __slots__ = ("key", "previous_version", "previous_version_expires_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    key: KeyMetadata
    previous_version: int
    previous_version_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[_Union[KeyMetadata, _Mapping]] = ..., previous_version: _Optional[int] = ..., previous_version_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ValidateKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "service_id", "key_type", "value", "fields", "key", "live_check")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LIVE_CHECK_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    service_id: str
    key_type: str
    value: str
    fields: _containers.ScalarMap[str, str]
    key: KeyRef
    live_check: bool
    def __init__(self, tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., key_type: _Optional[str] = ..., value: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., key: _Optional[_Union[KeyRef, _Mapping]] = ..., live_check: _Optional[bool] = ...) -> None: ...

class ValidateKeyResponse(_message.Message):
    __slots__ = ("validation",)
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    validation: ValidationResult
    def __init__(self, validation: _Optional[_Union[ValidationResult, _Mapping]] = ...) -> None: ...

class ResolveKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "service_id", "key_type", "purpose", "allow_platform_fallback")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PLATFORM_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    service_id: str
    key_type: str
    purpose: str
    allow_platform_fallback: bool
    def __init__(self, tenant_id: _Optional[str] = ..., service_id: _Optional[str] = ..., key_type: _Optional[str] = ..., purpose: _Optional[str] = ..., allow_platform_fallback: _Optional[bool] = ...) -> None: ...

class ResolveKeyResponse(_message.Message):
    __slots__ = ("value", "fields", "source", "key_id", "version", "key_type")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    value: str
    fields: _containers.ScalarMap[str, str]
    source: _common_pb2.KeySource
    key_id: str
    version: int
    key_type: str
    def __init__(self, value: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., source: _Optional[_Union[_common_pb2.KeySource, str]] = ..., key_id: _Optional[str] = ..., version: _Optional[int] = ..., key_type: _Optional[str] = ...) -> None: ...

class KeyField(_message.Message):
    __slots__ = ("name", "description", "pattern", "min_length", "required", "secret")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    pattern: str
    min_length: int
    required: bool
    secret: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., pattern: _Optional[str] = ..., min_length: _Optional[int] = ..., required: _Optional[bool] = ..., secret: _Optional[bool] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("service_id", "name", "category", "key_types", "fields", "primary_field", "min_length", "compliance_tags", "rotation_period_days", "security_level", "protocol_family", "live_check")
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_TAGS_FIELD_NUMBER: _ClassVar[int]
    ROTATION_PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FAMILY_FIELD_NUMBER: _ClassVar[int]
    LIVE_CHECK_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    name: str
    category: str
    key_types: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedCompositeFieldContainer[KeyField]
    primary_field: str
    min_length: int
    compliance_tags: _containers.RepeatedScalarFieldContainer[str]
    rotation_period_days: int
    security_level: SecurityLevel
    protocol_family: str
    live_check: str
    def __init__(self, service_id: _Optional[str] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., key_types: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[_Union[KeyField, _Mapping]]] = ..., primary_field: _Optional[str] = ..., min_length: _Optional[int] = ..., compliance_tags: _Optional[_Iterable[str]] = ..., rotation_period_days: _Optional[int] = ..., security_level: _Optional[_Union[SecurityLevel, str]] = ..., protocol_family: _Optional[str] = ..., live_check: _Optional[str] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ("category",)
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    category: str
    def __init__(self, category: _Optional[str] = ...) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceInfo]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceInfo, _Mapping]]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ("service_id",)
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    def __init__(self, service_id: _Optional[str] = ...) -> None: ...

class GetServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: ServiceInfo
    def __init__(self, service: _Optional[_Union[ServiceInfo, _Mapping]] = ...) -> None: ...

class PlatformSecretMetadata(_message.Message):
    __slots__ = ("name", "masked_fields", "version", "created_at", "updated_at")
    class MaskedFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    masked_fields: _containers.ScalarMap[str, str]
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., masked_fields: _Optional[_Mapping[str, str]] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutPlatformSecretRequest(_message.Message):
    __slots__ = ("name", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PutPlatformSecretResponse(_message.Message):
    __slots__ = ("secret",)
    SECRET_FIELD_NUMBER: _ClassVar[int]
    secret: PlatformSecretMetadata
    def __init__(self, secret: _Optional[_Union[PlatformSecretMetadata, _Mapping]] = ...) -> None: ...

class GetPlatformSecretRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPlatformSecretResponse(_message.Message):
    __slots__ = ("name", "fields", "version")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    fields: _containers.ScalarMap[str, str]
    version: int
    def __init__(self, name: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., version: _Optional[int] = ...) -> None: ...

class ListPlatformSecretsRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class ListPlatformSecretsResponse(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[PlatformSecretMetadata]
    def __init__(self, secrets: _Optional[_Iterable[_Union[PlatformSecretMetadata, _Mapping]]] = ...) -> None: ...

class DeletePlatformSecretRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeletePlatformSecretResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AccessKeyMetadata(_message.Message):
    __slots__ = ("key_id", "tenant_id", "name", "role", "permissions", "rate_limit", "expires_at", "status", "created_at", "last_used_at", "key_preview")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    tenant_id: str
    name: str
    role: AccessKeyRole
    permissions: _containers.RepeatedScalarFieldContainer[str]
    rate_limit: int
    expires_at: _timestamp_pb2.Timestamp
    status: KeyStatus
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    key_preview: str
    def __init__(self, key_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[AccessKeyRole, str]] = ..., permissions: _Optional[_Iterable[str]] = ..., rate_limit: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[KeyStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_preview: _Optional[str] = ...) -> None: ...

class IssueAccessKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "role", "permissions", "rate_limit", "expires_in_days")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_DAYS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    role: AccessKeyRole
    permissions: _containers.RepeatedScalarFieldContainer[str]
    rate_limit: int
    expires_in_days: int
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[AccessKeyRole, str]] = ..., permissions: _Optional[_Iterable[str]] = ..., rate_limit: _Optional[int] = ..., expires_in_days: _Optional[int] = ...) -> None: ...

class IssueAccessKeyResponse(_message.Message):
    __slots__ = ("key", "metadata")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    key: str
    metadata: AccessKeyMetadata
    def __init__(self, key: _Optional[str] = ..., metadata: _Optional[_Union[AccessKeyMetadata, _Mapping]] = ...) -> None: ...

class VerifyAccessKeyRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class VerifyAccessKeyResponse(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: AccessKeyMetadata
    def __init__(self, metadata: _Optional[_Union[AccessKeyMetadata, _Mapping]] = ...) -> None: ...

class ListAccessKeysRequest(_message.Message):
    __slots__ = ("tenant_id", "include_revoked", "page")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    include_revoked: bool
    page: _common_pb2.PageRequest
    def __init__(self, tenant_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAccessKeysResponse(_message.Message):
    __slots__ = ("access_keys", "page")
    ACCESS_KEYS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    access_keys: _containers.RepeatedCompositeFieldContainer[AccessKeyMetadata]
    page: _common_pb2.PageResponse
    def __init__(self, access_keys: _Optional[_Iterable[_Union[AccessKeyMetadata, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class RevokeAccessKeyRequest(_message.Message):
    __slots__ = ("tenant_id", "key_id", "reason")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    key_id: str
    reason: str
    def __init__(self, tenant_id: _Optional[str] = ..., key_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeAccessKeyResponse(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: AccessKeyMetadata
    def __init__(self, metadata: _Optional[_Union[AccessKeyMetadata, _Mapping]] = ...) -> None: ...

class DeleteTenantRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class DeleteTenantResponse(_message.Message):
    __slots__ = ("keys_deleted", "access_keys_revoked")
    KEYS_DELETED_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEYS_REVOKED_FIELD_NUMBER: _ClassVar[int]
    keys_deleted: int
    access_keys_revoked: int
    def __init__(self, keys_deleted: _Optional[int] = ..., access_keys_revoked: _Optional[int] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("ok", "vault_reachable", "vault_unsealed", "vault_authenticated", "token_ttl_seconds", "message")
    OK_FIELD_NUMBER: _ClassVar[int]
    VAULT_REACHABLE_FIELD_NUMBER: _ClassVar[int]
    VAULT_UNSEALED_FIELD_NUMBER: _ClassVar[int]
    VAULT_AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    vault_reachable: bool
    vault_unsealed: bool
    vault_authenticated: bool
    token_ttl_seconds: int
    message: str
    def __init__(self, ok: _Optional[bool] = ..., vault_reachable: _Optional[bool] = ..., vault_unsealed: _Optional[bool] = ..., vault_authenticated: _Optional[bool] = ..., token_ttl_seconds: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
