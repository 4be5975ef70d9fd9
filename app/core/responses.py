"""A route's answer written as JSON without FastAPI validating it again.

FastAPI validates whatever a route returns against the route's response model, then writes it:
for a model the route has just built (and pydantic validated as it was built) that is the same
work twice. A hot read returns :func:`validated_json` instead, the bytes FastAPI would write.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.responses import Response

JSON = "application/json"


def validated_json(
    declared: type[BaseModel] | tuple[type[BaseModel], ...],
    model: BaseModel,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``model`` as the 200 JSON body FastAPI writes for it (by alias), not validated again.

    ``declared`` is the route's response model (the classes of a union): ``model`` must be one
    of them exactly, since nothing here narrows a wider model to the declared one, as FastAPI's
    validation would (a need's full record would otherwise reach a donor).
    """
    classes = declared if isinstance(declared, tuple) else (declared,)
    if type(model) not in classes:
        raise TypeError(f"{type(model).__name__} is not the route's response model {declared}")
    content = model.__pydantic_serializer__.to_json(model, by_alias=True)
    return Response(content, media_type=JSON, headers=headers)
