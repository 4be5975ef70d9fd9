"""The catalogue of problem codes, and the language problems are written in.

Every ``code`` a problem-details answer of this API can carry is listed here once, with its HTTP
status and what it means in Chinese and in English. The OpenAPI document publishes the catalogue
(``x-problem-codes`` on the ``Problem`` schema, and an enum on its ``code``), and a test keeps it
equal to the codes raised in ``app/``.

Problems are written in simplified Chinese (zh-CN) unless the caller prefers English by
``Accept-Language``; the ``code`` is the same in both. The English ``detail`` is the one the code
raised, with its particulars; the Chinese one is the catalogue's, filled in with the problem's
extra fields (``limit``, ``cap_fen``, ``allowed`` …) where it names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

Language = Literal["zh-CN", "en"]
DEFAULT_LANGUAGE: Language = "zh-CN"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One problem code: its status, its meaning in both languages, and its Chinese detail.

    ``zh_detail`` may name the problem's extra fields in braces; without it (or when a field it
    names is absent) the Chinese detail is the meaning ``zh``.
    """

    status: int
    en: str
    zh: str
    zh_detail: str | None = None


P = ProblemType
CATALOGUE: dict[str, ProblemType] = {
    # 400
    "bad_request": P(400, "The request cannot be parsed (a body that is not UTF-8, a broken form)",
                     "请求无法解析（请求体不是 UTF-8 文本，或表单损坏）"),
    "http_error": P(400, "Another error of the HTTP layer; the status says which",
                    "HTTP 层的其他错误，见状态码"),
    "payment_notification_undecryptable": P(400, "The notification's resource does not decrypt",
        "支付通知的内容无法解密"),
    "payment_notification_forged": P(400, "The payment notification's signature does not verify",
        "支付通知的签名验证失败"),
    "payment_notification_stale": P(400, "The notification's timestamp is over five minutes off",
        "支付通知的时间戳与当前时间相差超过五分钟"),
    # 401
    "unauthorized": P(401, "Not authenticated", "未认证"),
    "not_authenticated": P(401, "Sign in: this needs a bearer token",
                           "请先登录：此操作需要 Bearer 访问令牌"),
    "invalid_token": P(401, "The access token is not valid or out of date; sign in again",
                       "访问令牌无效或已过时，请重新登录"),
    "token_expired": P(401, "The access token has expired; refresh it",
                       "访问令牌已过期，请用刷新令牌换取新的令牌"),
    "account_disabled": P(401, "The account is disabled", "账号已停用"),
    "session_ended": P(401, "The session has ended (signed out, or the password changed)",
                       "会话已结束（已退出登录或密码已更改），请重新登录"),
    "invalid_credentials": P(401, "The username or password is wrong", "用户名或密码错误"),
    "invalid_refresh_token": P(401, "The refresh token is not valid", "刷新令牌无效"),
    "refresh_token_reused": P(401, "A spent refresh token came back: its sessions are revoked",
                              "刷新令牌已被使用过，该登录的所有会话已撤销，请重新登录"),
    # 403
    "forbidden": P(403, "Not permitted", "无权进行此操作"),
    "admin_only": P(403, "Only an admin (in the record's scope) may do this",
                    "只有（管辖范围内的）管理员可以进行此操作"),
    "donor_only": P(403, "Only a donor may do this", "只有爱心人士可以进行此操作"),
    "csrf_failed": P(403, "A console form came without its CSRF token, or with another one",
                     "表单已失效（缺少或不匹配的安全令牌），请刷新页面后重新提交"),
    "not_allowed": P(403, "The caller's role may not take this step", "您的角色不能进行此操作"),
    "not_claimer": P(403, "Only the donor holding the need may do this",
                     "只有认领该需求的爱心人士可以进行此操作"),
    "not_owner": P(403, "Only the offer's donor may do this", "只有该捐赠的发布者可以进行此操作"),
    "not_uploader": P(403, "Only who added the photo, or an admin, removes it",
                      "只有上传者或管理员可以删除该照片"),
    "out_of_scope": P(403, "The region lies outside the caller's scope",
                      "该地区不在您的管辖范围内"),
    "role_not_grantable": P(403, "The caller's role does not rank above the admin's",
                            "您的角色无权创建或管理该角色的管理员"),
    "own_account": P(403, "An admin cannot disable or enable their own account",
                     "管理员不能停用或启用自己的账号"),
    "wrong_password": P(403, "The current password is wrong", "当前密码错误"),
    "county_only": P(403, "Only a county (or platform) admin may do this",
        "只有县级（或平台）管理员可以进行此操作"),
    # 404
    "not_found": P(404, "No such resource, or no route for the path", "未找到该资源或路径"),
    "admin_not_found": P(404, "No such admin in the caller's scope", "您的管辖范围内没有该管理员"),
    "household_not_found": P(404, "No such household in the caller's scope",
                             "您的管辖范围内没有该农户"),
    "need_not_found": P(404, "No such need, or not one the caller may see",
                        "需求不存在，或您无权查看"),
    "offer_not_found": P(404, "No such offer, or not one the caller may see",
                         "捐赠不存在，或您无权查看"),
    "pairing_not_found": P(404, "No such pairing of the caller's", "没有您的这一对接"),
    "run_not_found": P(404, "No such matching run in the caller's scope",
                       "您的管辖范围内没有该匹配运行"),
    "region_not_found": P(404, "No such region (in the caller's scope)",
                          "地区不存在，或不在您的管辖范围内"),
    "photo_not_found": P(404, "No such photo, or not one the caller may see",
                         "照片不存在，或您无权查看"),
    "help_act_not_found": P(404, "No such help act, or not one the caller may see",
                            "帮扶记录不存在，或您无权查看"),
    "delivery_not_found": P(404, "The need has no delivery of the caller's",
                            "该需求没有您的交付记录"),
    "helper_not_found": P(404, "No such helper or liaison in the caller's scope",
                          "您的管辖范围内没有该帮扶人或联络员"),
    "programme_not_found": P(404, "No such programme, or not one the caller may see",
                             "结对项目不存在，或您无权查看"),
    "programme_pairing_not_found": P(404, "No such programme pairing of the caller's",
                                     "没有您的这一结对"),
    "sponsorship_payment_not_found": P(404, "No such payment of the programme pairing",
                                       "该结对没有这笔资助款"),
    "allocation_not_found": P(404, "No such allocation in the caller's scope",
        "您的管辖范围内没有该分配方案"),
    "county_not_found": P(404, "No such county (in the caller's scope)",
        "县不存在，或不在您的管辖范围内"),
    "donation_not_found": P(404, "No such donation of the caller's",
        "没有您的这笔捐款"),
    "funding_not_found": P(404, "No such funding, or the need is not crowdfunded",
        "筹款不存在，或该需求未在众筹"),
    "payment_order_unknown": P(404, "The payment notification names an order we never made",
        "支付通知中的订单不存在"),
    # 405, 406
    "method_not_allowed": P(405, "The path does not answer this method (see Allow)",
                            "该路径不支持此请求方法（见 Allow 响应头）"),
    "not_acceptable": P(406, "No answer in a media type the request accepts",
                        "无法以请求接受的媒体类型作答"),
    # 409
    "conflict": P(409, "The request conflicts with the record's current state",
                  "请求与记录的当前状态冲突"),
    "invalid_transition": P(409, "The record's state does not allow this action",
                            "记录的当前状态不允许此操作",
                            "当前状态（{state}）不允许此操作；允许的操作：{allowed}"),
    "already_claimed": P(409, "Another donor claimed the need first", "该需求已被其他爱心人士认领"),
    "need_changed": P(409, "The need changed while the caller was acting; reload it",
                      "需求已被他人更改，请重新读取"),
    "pairing_changed": P(409, "The pairing changed while the caller was acting; reload it",
                         "对接已被他人更改，请重新读取"),
    "concurrent_update": P(409, "Someone changed the same records at the same moment; retry",
                           "他人同时修改了相同的记录，请重新读取后再试"),
    "idempotency_in_progress": P(409, "A request with this Idempotency-Key is still running, or "
                                      "its response is not available; retry after Retry-After",
                                 "使用该 Idempotency-Key 的请求仍在处理中，或其响应已不可用，"
                                 "请稍后重试"),
    "username_taken": P(409, "The username is taken", "该用户名已被使用"),
    "phone_taken": P(409, "An account is already registered with this number",
                     "该手机号已注册"),
    "account_changed": P(409, "The account changed meanwhile; sign in again",
                         "账号已被他人更改，请重新登录"),
    "admin_already_disabled": P(409, "The admin is disabled already", "该管理员已被停用"),
    "admin_already_active": P(409, "The admin is active; there is nothing to enable",
                              "该管理员账号处于启用状态，无需再次启用"),
    "household_exists": P(409, "A household with this ID number is already registered",
                          "该身份证号的农户已登记"),
    "open_need_exists": P(409, "The household already has an open need of this category",
                          "该农户已有同类别的未完成需求"),
    "offer_unavailable": P(409, "The offer has no capacity left or was withdrawn",
                           "该捐赠已无剩余名额或已撤回"),
    "too_many_open_claims": P(409, "The donor holds the most claims not yet delivered",
                              "您未交付的认领已达上限",
                              "您未交付的认领已达上限（{limit} 个），请先交付或释放一个"),
    "value_over_cap": P(409, "The need's value is over its category's cap",
                        "需求金额超过该类别的上限",
                        "需求金额超过该类别的上限（{cap_fen} 分）"),
    "photo_limit_reached": P(409, "The need or delivery holds the most photos allowed",
                             "照片数量已达上限，请先删除一张"),
    "programme_pairing_changed": P(409, "The programme pairing changed while the caller was "
                                   "acting; reload it", "结对已被他人修改，请刷新后再试"),
    "sponsorship_payment_changed": P(409, "The sponsorship payment changed while the caller "
                                     "was acting; reload it",
                                     "该笔资助款已被他人处理，请刷新后再试"),
    "pairing_not_terminated": P(409, "Only a terminated pairing's payment is refunded",
                                "只有已终止结对的资助款可以退还给资助人",
                                "该结对处于{state}状态，只有已终止（terminated）结对的资助款可以退还"),
    "already_signed_up": P(409, "The donor has signed up to this programme already",
                           "您已报名参加该结对项目"),
    "allocation_changed": P(409, "The allocation changed while the caller was acting; reload it",
        "分配方案已被他人处理，请刷新后再试"),
    "allocation_stale": P(409, "A chosen need changed since the proposal; propose again",
        "方案中的需求已发生变化，请重新生成分配方案"),
    "payment_channel_unavailable": P(409, "Online donations are not open (no payment channel)",
        "在线捐款未开通"),
    "already_reversed": P(409, "The transaction was reversed already",
        "该笔交易已冲正"),
    "credits_changed": P(409, "The credits were spent meanwhile",
        "积分已被使用"),
    "donation_changed": P(409, "The donation changed while the caller was acting; reload it",
        "捐款状态已变化，请刷新后再试"),
    "funding_changed": P(409, "The funding changed while the caller was acting; reload it",
        "筹款状态已变化，请刷新后再试"),
    "funding_exceeded": P(409, "The amount is more than the need still lacks",
        "金额超过该需求尚缺的金额",
        "金额超过该需求尚缺的 {remaining_fen} 分"),
    "funding_exists": P(409, "The need is funded (or crowdfunded) already",
        "该需求已在筹款或已获资助"),
    "funding_not_open": P(409, "The need's crowdfunding is not open",
        "该需求的众筹未在进行中"),
    "insufficient_credits": P(409, "The donor does not hold enough credits",
        "您的积分不足"),
    "insufficient_funds": P(409, "The account does not hold enough money for this",
        "账户余额不足"),
    "need_funded": P(409,
        "Money pays for this need (a crowdfunding or the pool): it is not claimed with goods"
        " or cancelled",
        "该需求已由资金资助（众筹或基金库拨付），不能再认领或撤销"),
    "need_not_published": P(409, "Only a published need is crowdfunded",
        "只有已发布的需求可以众筹"),
    "receipt_not_issued": P(409, "No receipt was issued for this donation",
        "该笔捐款没有开具收据"),
    "voucher_recorded": P(409, "The voucher was recorded with another amount",
        "该凭证号已登记为其他金额"),
    # 412
    "precondition_failed": P(412, "A precondition of the request failed", "请求的前提条件不成立"),
    "if_match_invalid": P(412, "If-Match is not a version (the ETag)",
                          "If-Match 必须是记录的版本号（即 ETag）"),
    "version_mismatch": P(412, "The record changed since that version; reload it",
                          "记录已被修改，请重新读取后再试",
                          "记录已被修改（当前版本 {current_version}），请重新读取后再试"),
    # 413
    "payload_too_large": P(413, "The request body is over the size limit", "请求体超过大小限制"),
    "photo_too_large": P(413, "The photo is over the size limit", "照片超过大小限制"),
    "photo_too_many_pixels": P(413, "The image has too many pixels", "图片像素过多"),
    # 415
    "unsupported_media_type": P(415, "The body's media type is not accepted",
                                "不支持该请求体的媒体类型"),
    "photo_type_unsupported": P(415, "The file is not a JPEG, PNG or WebP image",
                                "文件不是 JPEG、PNG 或 WebP 图片"),
    "photo_unreadable": P(415, "The image is damaged or incomplete", "图片已损坏或不完整"),
    # 422
    "unprocessable": P(422, "The request cannot be processed", "无法处理该请求"),
    "validation_failed": P(422, "The request does not match the schema; see errors",
                           "请求不符合接口定义，详见 errors"),
    "malformed_json": P(422, "The request body is not valid JSON", "请求体不是有效的 JSON"),
    "invalid_idempotency_key": P(422, "Idempotency-Key must be one value of 1-255 printable "
                                      "ASCII characters",
                                 "Idempotency-Key 必须是 1 到 255 个可打印 ASCII 字符"),
    "idempotency_key_reused": P(422, "The Idempotency-Key was used with another request",
                                "该 Idempotency-Key 已用于另一个不同的请求"),
    "invalid_cursor": P(422, "The cursor is not one this API made", "游标无效，不是本接口生成的"),
    "deadline_in_past": P(422, "The deadline must be a future date", "截止日期必须是将来的日期"),
    "invalid_range": P(422, "from must come before to", "起始日期（from）必须早于结束日期（to）"),
    "range_too_long": P(422, "The range is longer than allowed", "日期范围过长"),
    "result_too_large": P(422, "The answer would hold too many figures; narrow the scope or range",
                          "结果数据过多，请缩小地区或日期范围"),
    "not_a_village": P(422, "The code is not a village's", "该代码不是村级行政区划代码"),
    "scope_level_mismatch": P(422, "The scope's level does not fit the admin's role",
                              "管辖范围的级别与管理员角色不符"),
    "unknown_region": P(422, "No region has the code", "没有该代码的地区"),
    "sms_code_invalid": P(422, "The SMS code is wrong, spent or expired",
                          "短信验证码错误、已使用或已过期"),
    "window_in_past": P(422, "available_until must lie in the future",
                        "available_until 必须是将来的时间"),
    "helper_region_mismatch": P(422, "The helper's region does not hold the household's village",
                                "帮扶人的服务地区不包含该农户所在的村"),
    "not_a_donor": P(422, "The account is not a donor's", "该账号不是爱心人士账号"),
    "helper_not_assigned": P(422, "The person is neither the household's helper nor its liaison",
                             "此人不是该农户的帮扶人或联络员"),
    "act_in_future": P(422, "A help act cannot be dated in the future",
                       "帮扶记录的日期不能晚于今天"),
    "programme_terms": P(422, "What the programme's kind requires is missing or does not fit it",
                         "缺少该类结对项目所需的内容，或内容与项目类型不符"),
    "student_outside_programme": P(422, "The household lies outside the programme's county",
                                   "该农户不在结对项目所在的县"),
    "payment_in_future": P(422, "A payment's day (received, paid out, refunded) is in the future",
                           "资助款的收款、发放或退款日期不能晚于今天"),
    "payment_too_early": P(422, "A payment's day comes before the step it follows: received "
                                "before the pairing was made, paid out or refunded before received",
                           "资助款的日期早于上一步：收款不能早于结对建立之日，"
                           "发放或退款不能早于收款之日",
                           "该日期不能早于 {earliest}：收款不能早于结对建立之日，"
                           "发放或退款不能早于收款之日"),
    "session_outside_term": P(422, "The session's day lies outside the pairing's term",
                              "辅导日期不在结对的期限内"),
    "funding_too_small": P(422, "The need is worth less than a crowdfunding's least value",
        "需求金额低于众筹的最低金额",
        "需求金额低于众筹的最低金额（{min_fen} 分）"),
    "payment_amount_mismatch": P(422, "The amount paid is not the donation's amount",
        "支付金额与捐款金额不符"),
    "period_invalid": P(422, "A period is a year (2026), a quarter (2026Q4) or a month (2026-11)",
        "期间应为年份（2026）、季度（2026Q4）或月份（2026-11）"),
    "purchase_proof_required": P(422, "A purchase needs a voucher number or a receipt photo",
        "登记采购须提供凭证号或票据照片"),
    # 428
    "precondition_required": P(428, "The request must be conditional", "请求必须带前提条件"),
    "if_match_required": P(428, "Send If-Match with the record's version (its ETag)",
                           "请在 If-Match 中携带记录的版本号（即 ETag）"),
    # 429
    "rate_limited": P(429, "Too many requests; retry after the seconds in Retry-After",
                      "请求过于频繁，请按 Retry-After 的秒数后再试"),
    # 500
    "internal_error": P(500, "An unexpected error occurred", "服务器发生意外错误"),
    # 503
    "service_unavailable": P(503, "The service cannot answer now; retry",
                             "服务暂不可用，请稍后重试"),
    "database_unavailable": P(503, "The database cannot be reached; retry shortly",
                              "无法连接数据库，请稍后重试"),
    "migrations_pending": P(503, "The database schema is not at the code's migrations",
                            "数据库结构未升级到当前版本，请运行 aixin migrate"),
    "sms_unavailable": P(503, "No SMS provider can send the code now", "短信服务暂不可用"),
    "photo_storage_unavailable": P(503, "The photo storage cannot be reached; retry shortly",
                                   "无法连接照片存储，请稍后重试"),
    "payment_provider_unavailable": P(503, "The payment provider is unreachable or refused; retry",
        "支付服务暂不可用，请稍后重试"),
}  # fmt: skip

TITLES_ZH: dict[int, str] = {
    400: "错误的请求",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "不允许的请求方法",
    406: "无法接受",
    409: "冲突",
    412: "前提条件不成立",
    413: "请求体过大",
    415: "不支持的媒体类型",
    422: "无法处理的请求",
    428: "需要前提条件",
    429: "请求过多",
    500: "服务器内部错误",
    503: "服务不可用",
}
# Problem types whose title is narrower than their status's.
_CODE_TITLES_ZH = {"invalid_transition": "不允许的状态变更"}


# -- the caller's language ---------------------------------------------------------------------

# The caller's Accept-Language, held while its request is served (app.core.middleware); read
# only when a problem is written, which most requests never do.
_accept_language: ContextVar[str | None] = ContextVar("accept_language", default=None)


def hold_language(accept_language: str | None) -> Token[str | None]:
    """Hold ``accept_language`` (the header, as sent) for the request being served."""
    return _accept_language.set(accept_language)


def release_language(token: Token[str | None]) -> None:
    _accept_language.reset(token)


def current_language() -> Language:
    """The language the problems of the request being served are written in."""
    return negotiate(_accept_language.get())


_LANGUAGES: dict[str, Language] = {"zh": "zh-CN", "*": "zh-CN", "en": "en"}


def negotiate(accept_language: str | None) -> Language:
    """zh-CN or en for an ``Accept-Language`` header: the acceptable one of highest weight.

    Any Chinese tag (``zh``, ``zh-CN``, ``zh-Hans`` …) and ``*`` mean zh-CN, any English tag
    en; a weight of 0 refuses a language; equal weights keep the header's order. No header, or
    nothing this API speaks, means zh-CN.
    """
    best: tuple[float, Language] | None = None
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        language = _LANGUAGES.get(primary)
        weight = _weight(params)
        if language is not None and weight > 0 and (best is None or weight > best[0]):
            best = (weight, language)
    return best[1] if best else DEFAULT_LANGUAGE


def _weight(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                return 0.0
            return weight if 0 <= weight <= 1 else 0.0
    return 1.0


# -- the words of one problem ------------------------------------------------------------------


def title_in(language: Language, status: int, code: str, title: str | None) -> str:
    """The problem's title: ``title`` (or the status's phrase) in English, else Chinese."""
    if language == "en":
        return title or HTTPStatus(status).phrase
    return _CODE_TITLES_ZH.get(code) or TITLES_ZH.get(status) or HTTPStatus(status).phrase


def detail_in(language: Language, code: str, detail: str, extra: Mapping[str, Any]) -> str:
    """The problem's detail: as raised in English; else the catalogue's Chinese, filled in."""
    problem = CATALOGUE.get(code)
    if language == "en" or problem is None:
        return detail
    if problem.zh_detail is None:
        return problem.zh
    try:
        return problem.zh_detail.format_map({k: _zh_value(v) for k, v in extra.items()})
    except (KeyError, IndexError, ValueError):
        return problem.zh


def _zh_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "、".join(str(item) for item in value) or "无"
    return "未知" if value is None else value


def catalogue_document() -> list[dict[str, Any]]:
    """The catalogue as the OpenAPI document publishes it, by status then code."""
    return [
        {"code": code, "status": problem.status, "en": problem.en, "zh": problem.zh}
        for code, problem in sorted(CATALOGUE.items(), key=lambda item: (item[1].status, item[0]))
    ]
