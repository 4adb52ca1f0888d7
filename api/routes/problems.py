"""Route: ``POST /v1/problems:validate`` (a problem checked, nothing solved)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from stockplan.api import services
from stockplan.api.responses import ValidationResult
from stockplan.api.routes.common import CallerDep, body_json

router = APIRouter(tags=["problems"])


@router.post("/v1/problems:validate", operation_id="validateProblem", response_model=ValidationResult)
async def validate_problem(request: Request, _caller: CallerDep) -> dict[str, Any]:
    """200 with a summary when valid; 422 listing every bad field by its JSON path.

    ``warnings`` lists what is valid but probably not meant (safety stock the model
    ignores for want of a cost, statistics without a primary agreement), by path.
    """
    from stockplan.solver.safety_stock import safety_stock_notes

    problem = services.parse_problem(await body_json(request), prefix="$")
    warnings = [{"path": f"$.{n.path}", "code": n.code.value, "message": n.message}
                for n in safety_stock_notes(problem)]
    return {"valid": True, "orders": len(problem.orders), "skus": len(problem.items),
            "locations": len(problem.locations), "agreements": len(problem.agreements),
            "periods": problem.horizon.periods, "warnings": warnings}
