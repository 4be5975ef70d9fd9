"""Public reference data: the division codes (no token needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.types import RegionCode
from app.regions import service
from app.regions.schemas import RegionDetail, RegionList, RegionRead

router = APIRouter(prefix="/regions", tags=["regions"])

CODE_DOC = "A division code: 2 (province), 4, 6, 9 or 12 (village) digits"
CACHE_CONTROL = "public, max-age=3600"


@router.get("", response_model=RegionList, responses=problems(404))
async def list_regions(
    session: SessionDep,
    response: Response,
    parent: Annotated[
        RegionCode | None, Query(description=f"{CODE_DOC}; omitted: the provinces")
    ] = None,
) -> RegionList:
    """List the regions directly below ``parent`` (the provinces when it is omitted)."""
    children = await service.children_of(session, parent)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return RegionList(items=[RegionRead.model_validate(region) for region in children])


@router.get("/{code}", response_model=RegionDetail)
async def read_region(
    session: SessionDep,
    response: Response,
    code: Annotated[RegionCode, Path(description=CODE_DOC)],
) -> RegionDetail:
    """Show one region with the regions that contain it, province first."""
    region = await service.get_region(session, code)
    ancestors = await service.ancestors_of(session, code)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return RegionDetail(
        code=region.code,
        name=region.name,
        level=region.level,
        parent_code=region.parent_code,
        ancestors=[RegionRead.model_validate(item) for item in ancestors],
    )
