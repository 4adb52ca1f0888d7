"""The plans list for triage (``/ui``): what each plan leaves late or lost, its gap and time limit, paging."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockplan.api.app import create_app
from stockplan.api.db import PlanRow, new_id
from tests.api.conftest import service_settings
from tests.api.test_ui import solve


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    with TestClient(create_app(service_settings(f"sqlite:///{tmp_path / 'stockplan.db'}"))) as c:
        yield c


def row_of(html: str, plan_id: str) -> str:
    m = re.search(rf'<tr>\s*<td class="pick"><input type="radio" name="a" value="{plan_id}".*?</tr>', html, re.S)
    assert m, f"no row for {plan_id}"
    return m.group(0)


def test_each_plan_shows_late_short_and_lost_and_what_it_supersedes(client: TestClient) -> None:
    old = solve(client, "three-customers", "triage")
    new = solve(client, "mixed-small", "triage")
    html = client.get("/ui").text
    lines = new["plan"]["report"]["lines"]
    late = sum(ln["status"] == "backordered" for ln in lines)
    short = sum(ln["status"] in ("partially_lost", "lost") for ln in lines)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
             for c in re.findall(r'<td class="num">(.*?)</td>', row_of(html, new["id"]), re.S)]
    assert cells[2:5] == [str(late), str(short), str(new["plan"]["report"]["kpis"]["units_lost"])]
    assert f'supersedes <a href="/ui/plans/{old["id"]}">' in row_of(html, new["id"])
    assert "superseded" in row_of(html, old["id"])
    old_late = sum(ln["status"] == "backordered" for ln in old["plan"]["report"]["lines"])
    assert old_late == 3 and re.findall(r'<td class="num">(.*?)</td>', row_of(html, old["id"]))[2] == "3"


def test_a_plan_stopped_by_its_time_limit_is_flagged(client: TestClient) -> None:
    plan = solve(client, "three-customers")
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, plan["id"])
        assert row is not None
        row.outcome = "time_limit"
        s.commit()
    assert ">time limit</span>" in row_of(client.get("/ui").text, plan["id"])
    page = client.get(f"/ui/plans/{plan['id']}").text
    assert "reached its time limit" in page


def test_filters_by_creation_date_and_pages_of_fifty(client: TestClient) -> None:
    plan = solve(client, "three-customers")
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(PlanRow, plan["id"])
        assert row is not None
        start = row.created_at
        for k in range(54):  # copies of the plan, one a minute earlier each
            s.add(PlanRow(id=new_id(), job_id=row.job_id, outcome=row.outcome, cost=row.cost, plan=row.plan,
                          summary=row.summary, created_at=start - dt.timedelta(minutes=k + 1)))
        s.commit()
    first = client.get("/ui").text
    assert "Plans 1–50 of 55" in first and first.count('class="plan-link"') == 50
    assert 'href="/ui?status=all&amp;page=2" rel="next"' in first or 'href="/ui?page=2" rel="next"' in first
    second = client.get("/ui?page=2").text
    assert "Plans 51–55 of 55" in second and second.count('class="plan-link"') == 5
    today = start.date().isoformat()
    tomorrow = (start.date() + dt.timedelta(days=1)).isoformat()
    assert "of 55" in client.get(f"/ui?to={today}").text
    none = client.get(f"/ui?from={tomorrow}").text
    assert 'class="plan-link"' not in none and "created in these dates" in none
    assert client.get("/ui?from=yesterday").status_code == 422
    assert client.get("/ui?page=0").status_code == 422
