"""The words of helpers and help acts."""

from __future__ import annotations

from typing import Literal, get_args

# helper 主体帮扶人 (a neighbour or relative), liaison 帮扶联络员 (serves several households).
Role = Literal["helper", "liaison"]
ROLES: tuple[str, ...] = get_args(Role)

# visit 走访, care 生活照料, production 生产帮扶, schooling 助学, health 健康, other 其他.
ActKind = Literal["visit", "care", "production", "schooling", "health", "other"]
ACT_KINDS: tuple[str, ...] = get_args(ActKind)
