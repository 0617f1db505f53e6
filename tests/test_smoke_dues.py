"""The sample data gives Kremenchuk the statement the issue describes."""

from bot.db import Database
from bot.services import dues, members
from tests.conftest import TODAY


async def test_kremenchuk_statement(examples: Database) -> None:
    async with examples.session() as session:
        member = await members.member_by_code(session=session, code="04057287")
        assert member is not None and member.id is not None
        st = await dues.statement(session=session, member_id=member.id, today=TODAY)
    year = st.years[0]
    assert year.year == 2025
    by_kind = {line.kind: line for line in year.lines}
    assert by_kind["membership"].amount_kop == 24_853_000
    assert by_kind["membership"].balance_kop == 4_853_000
    assert by_kind["fund"].balance_kop == 24_853_000
    assert by_kind["fund"].overdue
    assert by_kind["membership"].formula is not None
    assert by_kind["membership"].formula.population == 214_250
