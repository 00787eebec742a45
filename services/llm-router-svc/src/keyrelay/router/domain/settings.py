"""A tenant's routing settings (SPEC §5), as the router applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from keyrelay.router.domain.catalog import BudgetTier


@dataclass(frozen=True)
class TenantSettings:
    tenant_id: str
    budget_tier: BudgetTier = BudgetTier.MEDIUM
    preferred_providers: tuple[str, ...] = ()
    fallback_providers: tuple[str, ...] = ()
    max_monthly_cost_micros: int | None = None  # None: no limit
    on_budget_exceeded: Literal["reject", "downgrade"] = "reject"
    allow_platform_fallback: bool = False
    region: str = ""  # "" = any
    tokens_per_minute: int = 0  # 0 = no limit
    updated_at: datetime | None = field(default=None, compare=False)
