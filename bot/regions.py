"""Ukraine's regions: the registry stores a region by its Ukrainian name; readers get theirs."""

from __future__ import annotations

from bot.i18n import N_, Tr

# The registry's spelling (members.csv `region`, as the oblast's adjective or the city) -> message.
REGIONS = {
    "Вінницька": N_("region.vinnytsia"),
    "Волинська": N_("region.volyn"),
    "Дніпропетровська": N_("region.dnipropetrovsk"),
    "Донецька": N_("region.donetsk"),
    "Житомирська": N_("region.zhytomyr"),
    "Закарпатська": N_("region.zakarpattia"),
    "Запорізька": N_("region.zaporizhzhia"),
    "Івано-Франківська": N_("region.ivano_frankivsk"),
    "Київська": N_("region.kyiv_oblast"),
    "Кіровоградська": N_("region.kirovohrad"),
    "Луганська": N_("region.luhansk"),
    "Львівська": N_("region.lviv"),
    "Миколаївська": N_("region.mykolaiv"),
    "Одеська": N_("region.odesa"),
    "Полтавська": N_("region.poltava"),
    "Рівненська": N_("region.rivne"),
    "Сумська": N_("region.sumy"),
    "Тернопільська": N_("region.ternopil"),
    "Харківська": N_("region.kharkiv"),
    "Херсонська": N_("region.kherson"),
    "Хмельницька": N_("region.khmelnytskyi"),
    "Черкаська": N_("region.cherkasy"),
    "Чернівецька": N_("region.chernivtsi"),
    "Чернігівська": N_("region.chernihiv"),
    "Київ": N_("region.kyiv_city"),
    "Автономна Республіка Крим": N_("region.crimea"),
    "Севастополь": N_("region.sevastopol"),
}
# Other spellings people put in a spreadsheet.
_SUFFIXES = (" область", " обл.", " обл")
_ALIASES = {"м. Київ": "Київ", "місто Київ": "Київ", "АР Крим": "Автономна Республіка Крим"}


def canonical(region: str) -> str | None:
    """The registry's spelling of a region, or None if it is not one of Ukraine's regions."""
    name = " ".join(region.split())
    name = _ALIASES.get(name, name)
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name if name in REGIONS else None


def region_name(tr: Tr, region: str) -> str:
    """A region as the reader names it ("Полтавська обл.", "Poltava Oblast"); unknown: as is."""
    known = canonical(region)
    return tr.t(REGIONS[known]) if known else region
