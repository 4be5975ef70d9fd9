"""The poverty register's spreadsheet: the import template, and its rows read and checked.

Reading takes the first sheet of an .xlsx (openpyxl, read-only), finds the columns by their
Chinese headings in any order, and checks each row with the API's own ``HouseholdCreate``. A
row's problems are named by the row's number in the sheet and the column, never by its content,
so a report of the file carries no personal data.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.console.render import FIELD_NAMES, SUPPORT_NAMES
from app.households.schemas import HouseholdCreate

SHEET = "受助户"
COLUMNS = (
    "village_code", "head_name", "id_number", "phone", "size", "support_category",
    "key_household", "main_helper", "liaison",
)  # fmt: skip
REQUIRED = ("head_name", "id_number", "phone", "size", "support_category")
HEADINGS = {FIELD_NAMES[name]: name for name in COLUMNS}
CATEGORY_WORDS = {
    **{name: code for code, name in SUPPORT_NAMES.items()},
    **{code: code for code in SUPPORT_NAMES},
    "五保": "tekun",
    "边缘": "edge",
    "边缘户": "edge",
    "贫困户": "poor",
}
YES = {"是", "y", "yes", "true", "1", "√"}
NO = {"否", "n", "no", "false", "0", ""}
MAX_ROWS = 20_000
TEMPLATE_ROWS = 5_000
ID_REASONS = (
    ("check digit", "身份证号校验位不正确"),
    ("birth date", "身份证号中的出生日期无效"),
    ("ASCII", "身份证号须为半角数字和 X"),
    ("18 characters", "身份证号应为 18 位"),
)


class SheetError(ValueError):
    """The file as a whole cannot be read: not an .xlsx, or its headings are missing."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its number in the sheet, and either a household or what is wrong."""

    number: int
    household: HouseholdCreate | None
    reasons: tuple[str, ...] = ()


@dataclass(slots=True)
class Sheet:
    rows: list[Row] = field(default_factory=list)


def template() -> bytes:
    """The import template: the headings, text columns for ID and phone, and the rules."""
    # openpyxl is imported where it is used: the server starts without it.
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import (
        DataValidation,
    )

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append([FIELD_NAMES[name] for name in COLUMNS])
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    widths = (16, 12, 22, 16, 10, 14, 14, 14, 14)
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    # ID numbers, phones and village codes typed as numbers would lose digits: text cells.
    for column in ("A", "C", "D"):
        sheet.column_dimensions[column].number_format = "@"
    categories = DataValidation(
        type="list", formula1='"' + ",".join(SUPPORT_NAMES.values()) + '"', allow_blank=True
    )
    flags = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    sheet.add_data_validation(categories)
    sheet.add_data_validation(flags)
    categories.add(f"F2:F{TEMPLATE_ROWS + 1}")
    flags.add(f"G2:G{TEMPLATE_ROWS + 1}")
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("填写说明")
    for line in (
        ["列", "说明"],
        ["村代码", "12 位行政区划代码；村级管理员可留空，即为本村"],
        ["户主姓名", "必填"],
        ["身份证号", "必填，18 位，请以文本格式填写"],
        ["联系电话", "必填，手机号或带区号的座机"],
        ["家庭人口", "必填，1 到 30"],
        ["帮扶类别", "必填：" + "、".join(SUPPORT_NAMES.values())],
        ["重点帮扶对象", "是 / 否，留空为否"],
        ["帮扶责任人、联络人", "选填"],
        ["重复导入", "已登记的身份证号会跳过，不会重复登记"],
    ):
        notes.append(line)
    notes.column_dimensions["A"].width = 20
    notes.column_dimensions["B"].width = 50
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _cell(name: str, value: Any, reasons: list[str]) -> Any:
    """The value a cell gives ``HouseholdCreate`` for column ``name`` (None: left out)."""
    if name == "id_number" and isinstance(value, int | float) and not isinstance(value, bool):
        reasons.append("身份证号须以文本格式填写（数值会丢失位数）")
        return None
    text = _text(value)
    if name == "size":
        return int(text) if text.isascii() and text.isdigit() else (text or None)
    if name == "support_category":
        return CATEGORY_WORDS.get(text, text) or None
    if name == "key_household":
        word = text.lower()
        if word in YES:
            return True
        if word in NO:
            return False
        reasons.append("重点帮扶对象应填“是”或“否”")
        return None
    return text or None


def _reasons(error: ValidationError) -> list[str]:
    found = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        label = FIELD_NAMES.get(name, name)
        if item["type"] == "missing":
            found.append(f"缺少{label}")
        elif name == "id_number":
            message = str(item.get("msg", ""))
            found.append(next((zh for en, zh in ID_REASONS if en in message), "身份证号无效"))
        elif name == "village_code":
            found.append("村代码应为 12 位数字")
        elif name == "phone":
            found.append("联系电话应为手机号或带区号的座机")
        elif name == "size":
            found.append("家庭人口应为 1 到 30 的整数")
        elif name == "support_category":
            found.append("帮扶类别应为：" + "、".join(SUPPORT_NAMES.values()))
        else:
            found.append(f"{label}无效")
    return found


def _columns(heading_row: tuple[Any, ...]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, value in enumerate(heading_row):
        name = HEADINGS.get(_text(value))
        if name is not None:
            columns.setdefault(name, index)
    missing = [FIELD_NAMES[name] for name in REQUIRED if name not in columns]
    if missing:
        raise SheetError("第 1 行缺少以下列：" + "、".join(missing) + "（请使用导入模板）")
    return columns


def read(content: bytes, *, default_village: str | None) -> Sheet:
    """The rows of the first sheet of an .xlsx, each checked as a household's registration.

    ``default_village`` fills a blank village code (a village admin's own village).
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError("文件不是有效的 .xlsx 工作簿") from exc
    try:
        worksheet = book.worksheets[0]
        lines = worksheet.iter_rows(values_only=True)
        columns = _columns(next(lines, ()))
        sheet = Sheet()
        for number, line in enumerate(lines, start=2):
            if all(_text(value) == "" for value in line):
                continue
            if len(sheet.rows) >= MAX_ROWS:
                raise SheetError(f"一次最多导入 {MAX_ROWS} 行，请分批导入")
            sheet.rows.append(_row(number, line, columns, default_village))
        return sheet
    finally:
        book.close()


def _row(
    number: int, line: tuple[Any, ...], columns: dict[str, int], default_village: str | None
) -> Row:
    reasons: list[str] = []
    data: dict[str, Any] = {}
    for name, index in columns.items():
        value = _cell(name, line[index] if index < len(line) else None, reasons)
        if value is not None:
            data[name] = value
    if "village_code" not in data and default_village:
        data["village_code"] = default_village
    try:
        household = HouseholdCreate.model_validate(data)
    except ValidationError as exc:
        return Row(number, None, tuple(reasons + _reasons(exc)))
    if reasons:
        return Row(number, None, tuple(reasons))
    return Row(number, household)


def workbook(
    title: str,
    headings: list[str],
    lines: list[list[Any]],
    *,
    percent_columns: tuple[int, ...] = (),
) -> bytes:
    """An .xlsx of one sheet: bold headings, then the lines; rates shown as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(headings)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in lines:
        sheet.append(line)
    for index in percent_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
            cell.number_format = "0.0%"
    for index, heading in enumerate(headings):
        sheet.column_dimensions[get_column_letter(index + 1)].width = max(10, 2 * len(heading) + 4)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
