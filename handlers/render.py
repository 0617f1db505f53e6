"""Turning service results into the texts people read; every word comes from locales/."""

from __future__ import annotations

from bot.i18n import N_, Tr
from bot.services.dues import ChargeLine, DuesStatement, PaymentPage, YearStatement
from bot.services.members import MemberSearch
from handlers.common import esc

KIND = {
    "membership": N_("charge.kind.membership"),
    "fund": N_("charge.kind.fund"),
    "entrance": N_("charge.kind.entrance"),
}
ROLE = {
    "official": N_("role.official"),
    "coordinator": N_("role.coordinator"),
    "admin": N_("role.admin"),
}
DETAILED_YEARS = 3  # more unpaid years than this are listed one line each


def kind(tr: Tr, value: str) -> str:
    """The name of a kind of charge."""
    return tr.t(KIND.get(value, value))


def role(tr: Tr, value: str) -> str:
    """The name of a role."""
    return tr.t(ROLE.get(value, value))


def _charge(tr: Tr, line: ChargeLine) -> list[str]:
    out = [tr.t("dues.charge", kind=kind(tr, line.kind), amount=tr.money(line.amount_kop))]
    f = line.formula
    if f is not None:
        formula = tr.t(
            "dues.formula",
            population=tr.number(f.population),
            rate=tr.money_rate(f.rate),
        )
        if f.minimum_applied and f.minimum_kop is not None:
            formula = tr.t(
                "dues.formula_minimum", formula=formula, minimum=tr.money(f.minimum_kop)
            )
        out.append(formula)
    out.append(tr.t("dues.due", date=tr.date(line.due_date)))
    if line.payments:
        last = max(p.paid_on for p in line.payments)
        out.append(
            tr.tn(
                "dues.paid_parts",
                "dues.paid_parts.plural",
                len(line.payments),
                amount=tr.money(line.paid_kop),
                date=tr.date(last),
            )
        )
    if line.balance_kop == 0:
        out.append(tr.t("dues.settled"))
    elif line.overdue:
        out.append(tr.t("dues.balance_overdue", amount=tr.money(line.balance_kop)))
    else:
        out.append(tr.t("dues.balance", amount=tr.money(line.balance_kop)))
    return [out[0]] + ["    " + s for s in out[1:]]


def _year(tr: Tr, ys: YearStatement) -> list[str]:
    out = [tr.t("dues.year", year=ys.year)]
    if not ys.lines:
        return [*out, tr.t("dues.no_charges")]
    for line in ys.lines:
        out += _charge(tr, line)
    if len(ys.lines) > 1:
        out.append(
            tr.t(
                "dues.year_total",
                charged=tr.money(ys.charged_kop),
                paid=tr.money(ys.paid_kop),
                balance=tr.money(ys.balance_kop),
            )
        )
    return out


def dues(tr: Tr, st: DuesStatement) -> str:
    """A council's statement: header, the years shown, totals and credit."""
    out = [
        tr.t(
            "dues.header",
            name=esc(tr.name(st.member.name_uk, st.member.name_en)),
            code=st.member.code,
        ),
        tr.t("dues.as_of", date=tr.date(st.today)),
    ]
    for i, ys in enumerate(st.years):
        out.append("")
        if i < DETAILED_YEARS:
            out += _year(tr, ys)
        else:
            out.append(tr.t("dues.year_short", year=ys.year, balance=tr.money(ys.balance_kop)))
    out.append("")
    if st.total_balance_kop:
        out.append(tr.t("dues.total", amount=tr.money(st.total_balance_kop)))
        if st.total_overdue_kop:
            out.append(tr.t("dues.total_overdue", amount=tr.money(st.total_overdue_kop)))
    else:
        out.append(tr.t("dues.all_paid"))
    if st.credit_kop:
        out.append(tr.t("dues.credit", amount=tr.money(st.credit_kop)))
    return "\n".join(out)


def payments(tr: Tr, page: PaymentPage) -> str:
    """One page of the payment history, newest first."""
    out = [
        tr.t("history.header", name=esc(tr.name(page.member.name_uk, page.member.name_en))),
        tr.tn(
            "history.count",
            "history.count.plural",
            page.total,
            amount=tr.money(page.total_paid_kop),
        ),
    ]
    if not page.items:
        return "\n".join([*out, "", tr.t("history.empty")])
    for item in page.items:
        out.append("")
        out.append(
            tr.t(
                "history.item",
                date=tr.date(item.paid_on, "medium"),
                amount=tr.money(item.amount_kop),
                reference=esc(item.reference),
            )
        )
        purpose = (item.year, item.kind)
        # The purpose is worth a line only where the money went elsewhere (say, to older debt).
        if (
            item.year is not None
            and item.kind is not None
            and purpose not in {(year, k) for year, k, _ in item.settled}
        ):
            out.append("    " + tr.t("history.purpose", kind=kind(tr, item.kind), year=item.year))
        for year, k, amount in item.settled:
            out.append(
                "    "
                + tr.t("history.settled", kind=kind(tr, k), year=year, amount=tr.money(amount))
            )
        if item.unapplied_kop:
            out.append("    " + tr.t("history.credit", amount=tr.money(item.unapplied_kop)))
    if page.pages > 1:
        out += ["", tr.t("history.page", page=page.page + 1, pages=page.pages)]
    return "\n".join(out)


def matches(tr: Tr, found: MemberSearch) -> str:
    """The prompt over the list of councils found by name; says so when the list is cut."""
    if found.cut:
        return tr.tn(
            "access.found_more", "access.found_more.plural", found.total, shown=len(found.matches)
        )
    return tr.tn("access.found", "access.found.plural", found.total)
