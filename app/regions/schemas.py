"""What the region endpoints return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["province", "city", "county", "township", "village"]


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["430525101"])
    name: str = Field(examples=["高沙镇"])
    level: Level
    parent_code: str | None = Field(examples=["430525"])


class RegionDetail(RegionRead):
    ancestors: list[RegionRead] = Field(
        description="The regions that contain this one, province first"
    )


class RegionList(BaseModel):
    items: list[RegionRead]
