"""Pages: the Jinja2 environment shipped in the package, the words of the console, and errors.

Every page is rendered here, so every one carries the signed-in user, its CSRF token and the
console's navigation; a problem raised by a service becomes its catalogue's Chinese message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.console.session import CSRF_FIELD, Viewer, csrf_token, set_csrf_cookie
from app.core.errors import AppError
from app.core.problems import CATALOGUE, detail_in
from app.stats.periods import CST

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("app.console", "templates"),
    autoescape=jinja2.select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)

ROLE_NAMES = {
    "platform": "平台管理员",
    "county": "县级管理员",
    "township": "乡镇管理员",
    "village": "村级管理员",
    "donor": "爱心人士",
}
CATEGORY_NAMES = {
    "goods": "物资",
    "schooling": "助学",
    "health": "医疗",
    "employment": "就业",
    "service": "服务",
    "skills": "技能培训",
    "housing": "危房改造",
    "industry": "产业发展",
}
SUPPORT_NAMES = {
    "poor": "建档立卡",
    "dibao": "低保",
    "tekun": "特困",
    "edge": "边缘易致贫",
    "other": "其他",
}
NEED_STATUS_NAMES = {
    "pending_review": "待审核",
    "published": "已发布",
    "claimed": "已认领",
    "delivered": "已送达",
    "fulfilled": "已完成",
    "rejected": "未通过",
    "cancelled": "已撤销",
    "expired": "已过期",
}
PAIRING_STATUS_NAMES = {
    "proposed": "待答复",
    "active": "进行中",
    "delivered": "已送达",
    "confirmed": "已确认",
    "released": "已放弃",
    "expired": "已过期",
    "declined": "已谢绝",
    "cancelled": "已撤销",
    "superseded": "已被取代",
}
URGENCY_NAMES = {1: "一般", 2: "较急", 3: "紧急"}
NOTIFICATION_NAMES = {
    "need.published": "需求已发布",
    "need.claimed": "需求已被认领",
    "need.released": "认领已放弃",
    "need.delivered": "需求已送达",
    "need.fulfilled": "需求已完成",
    "need.lapsed": "认领已过期",
    "need.disputed": "送达被退回",
    "pairing.proposed": "有新的推荐",
    "pairing.accepted": "推荐已接受",
    "pairing.declined": "推荐已谢绝",
    "pairing.lapsed": "推荐已过期",
    "thanks.received": "收到感谢",
    "reminder.claim_lapsing": "提醒：认领即将过期",
    "reminder.proposal_waiting": "提醒：推荐等待答复",
    "reminder.confirmation_waiting": "提醒：送达等待确认",
    "digest.daily": "每日摘要",
}
FIELD_NAMES = {
    "village_code": "村代码",
    "head_name": "户主姓名",
    "id_number": "身份证号",
    "phone": "联系电话",
    "size": "家庭人口",
    "support_category": "帮扶类别",
    "key_household": "重点帮扶对象",
    "main_helper": "帮扶责任人",
    "liaison": "联络人",
    "household_id": "受助户",
    "category": "类别",
    "title": "标题",
    "description": "说明",
    "value_fen": "估价",
    "urgency": "紧急程度",
    "deadline": "截止日期",
    "origin": "来源",
    "reason": "理由",
    "thanks": "感谢语",
    "note": "备注",
}


def yuan(fen: int | None) -> str:
    """Fen as yuan with two decimals: ¥1,234.50."""
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def local_time(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")


ENV.filters.update(yuan=yuan, percent=percent, local_time=local_time)
ENV.globals.update(
    ROLE_NAMES=ROLE_NAMES,
    CATEGORY_NAMES=CATEGORY_NAMES,
    SUPPORT_NAMES=SUPPORT_NAMES,
    NEED_STATUS_NAMES=NEED_STATUS_NAMES,
    PAIRING_STATUS_NAMES=PAIRING_STATUS_NAMES,
    URGENCY_NAMES=URGENCY_NAMES,
    NOTIFICATION_NAMES=NOTIFICATION_NAMES,
    CSRF_FIELD=CSRF_FIELD,
)


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page ``template`` for this request, with the user, the CSRF token and a notice."""
    user: Viewer | None = getattr(request.state, "viewer", None)
    values = {
        "request": request,
        "user": user,
        "csrf": csrf_token(request),
        "notice": NOTICES.get(request.query_params.get("notice") or ""),
        **(context or {}),
    }
    response = HTMLResponse(ENV.get_template(template).render(values), status_code=status_code)
    set_csrf_cookie(request, response)
    return response


NOTICES = {
    "registered": "受助户已登记。",
    "saved": "已保存。",
    "posted": "需求已发布。",
    "claim": "已认领，请在期限内送达。",
    "release": "已放弃认领，需求重新发布。",
    "deliver": "已标记为送达，等待村里确认。",
    "confirm": "已确认收到，感谢已送达捐赠方。",
    "dispute": "已退回给捐赠方。",
    "cancel": "需求已撤销。",
    "approve": "已审核通过并发布。",
    "reject": "已驳回。",
    "accept": "已接受推荐，需求归您认领。",
    "decline": "已谢绝推荐。",
    "read": "通知已全部标为已读。",
    "run": "匹配已运行。",
    "photo": "照片已上传。",
    "signed_out": "您已退出登录。",
}


def problem_message(error: AppError) -> str:
    """The readable Chinese message of a service's problem."""
    return detail_in("zh-CN", error.code, error.detail, error.extra)


def problem_title(error: AppError) -> str:
    known = CATALOGUE.get(error.code)
    return known.zh if known else "出错了"


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each invalid field of a form, by name, with a Chinese message that does not echo it."""
    found: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "form"
        label = FIELD_NAMES.get(name, name)
        kind = item["type"]
        if kind == "missing":
            message = f"请填写{label}"
        elif kind == "extra_forbidden":
            message = f"不认识的字段：{label}"
        elif kind.endswith("parsing") or kind.endswith("_type"):
            message = f"{label}的格式不对"
        else:
            message = f"{label}填写有误"
        found.setdefault(name, message)
    return found
